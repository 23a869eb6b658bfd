"""The WebSocket origin check applies Django's CSRF origin rule: scheme, host and port."""

from __future__ import annotations

from typing import Any

import pytest
import websockets
from django.test import override_settings

from realtime.security import origin_allowed
from tests.conftest import Daphne, ws_connect, ws_next


def scope(origin: str | None, host: str = "127.0.0.1:8101", **extra: Any) -> dict[str, Any]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers += [(name.encode(), value.encode()) for name, value in extra.items()]
    return {"type": "websocket", "headers": headers}


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8101", True),  # the page's own origin
        ("http://127.0.0.1:9999", False),  # another port is another origin
        ("https://127.0.0.1:8101", False),  # another scheme
        ("http://[::1]:8101", False),  # another host, though an allowed one
        ("http://localhost:8101", False),
        ("http://127.0.0.1", False),
        ("http://evil.example", False),
        ("null", False),
        (None, False),
    ],
)
def test_only_the_request_origin_is_allowed(origin: str | None, allowed: bool) -> None:
    assert origin_allowed(scope(origin)) is allowed


def test_a_host_outside_allowed_hosts_has_no_origin_of_its_own() -> None:
    assert not origin_allowed(scope("http://evil.example", host="evil.example"))


@override_settings(CSRF_TRUSTED_ORIGINS=["https://chat.example.com", "https://*.example.org"])
def test_trusted_origins_as_for_csrf() -> None:
    assert origin_allowed(scope("https://chat.example.com"))
    assert not origin_allowed(scope("http://chat.example.com"))
    assert origin_allowed(scope("https://eu.example.org"))
    assert not origin_allowed(scope("http://eu.example.org"))
    assert not origin_allowed(scope("https://example.org.evil.example"))


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_a_tls_proxy_the_origin_is_https() -> None:
    proxied = {"x-forwarded-proto": "https"}
    assert origin_allowed(scope("https://127.0.0.1:8101", **proxied))
    assert not origin_allowed(scope("http://127.0.0.1:8101", **proxied))
    assert origin_allowed({**scope("https://127.0.0.1:8101"), "scheme": "wss"})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:9999", "https://127.0.0.1:{port}", "http://[::1]:{port}"]
)
async def test_other_origins_are_refused_by_a_real_server(
    daphne_server: Daphne, origin: str, login_cookie: Any, make_user: Any
) -> None:
    from channels.db import database_sync_to_async

    cookie = await database_sync_to_async(login_cookie)(await database_sync_to_async(make_user)())
    with pytest.raises(websockets.InvalidStatus) as refused:
        await ws_connect(
            daphne_server, "/ws/notifications/", cookie, origin.format(port=daphne_server.port)
        )
    assert refused.value.response.status_code == 403
    ws = await ws_connect(daphne_server, "/ws/notifications/", cookie)  # its own origin
    assert (await ws_next(ws, "sync"))["type"] == "sync"
    await ws.close()
