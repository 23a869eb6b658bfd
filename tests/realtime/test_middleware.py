"""realtime.middleware.SocketEntry: what a socket's scope carries past the handshake."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path

from realtime.middleware import SocketEntry
from tests.conftest import ORIGIN

KEY = "k7xq2m9w4p8r1t6y3z5b0c8d7e6f5g4h"  # a session key of a valid shape


async def test_the_scope_past_the_handshake_has_the_session_but_no_headers() -> None:
    """The origin, the client's address and the session cookie are read at the handshake;
    the consumer's scope (kept for the socket's whole life) holds the session, not the
    headers or the parsed cookies."""
    seen: list[dict[str, Any]] = []

    async def consumer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    headers = [
        (b"host", b"localhost"),
        (b"origin", ORIGIN.encode()),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={KEY}; other=1".encode()),
        (b"user-agent", b"x" * 500),
    ]
    scope = {"type": "websocket", "path": "/ws/here/", "headers": headers, "client": None}
    await SocketEntry([path("ws/here/", consumer)])(scope, None, None)
    (inner,) = seen
    assert inner["session"].session_key == KEY
    assert inner["headers"] == ()
    assert scope["headers"] == ()  # the server's scope, which the frames above it keep
    assert "cookies" not in inner
    assert inner["url_route"] == {"args": (), "kwargs": {}}
