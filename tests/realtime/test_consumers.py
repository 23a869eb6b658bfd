"""The base JSON consumer, exercised through a real socket on the real Redis layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from chat import services
from chat.consumers import ChatRoomConsumer
from chat.models import Room
from common.cache import RedisCache
from rtsite.asgi import application
from tests.conftest import ORIGIN, open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(make_room: Callable[..., Room]) -> Room:
    return make_room()


async def test_malformed_frames_get_error_frames_and_socket_stays_usable(room: Room) -> None:
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        cases = [
            ("{oops", "bad_json"),
            ("[]", "bad_frame"),
            ("42", "bad_frame"),
            ('{"no": "type"}', "bad_frame"),
            ('{"type": "dance"}', "unknown_type"),
            ('{"type": "history"}', "invalid"),
            ('{"type": "history", "before_id": "ten"}', "invalid"),
            ('{"type": "message.send", "body": 12}', "invalid"),
        ]
        for raw, code in cases:
            await ws.send(raw)
            error = await ws.next("error")
            assert error["code"] == code, raw
            assert error["message"]
        await ws.usable()


async def test_binary_frames_are_refused(room: Room) -> None:
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        await ws.communicator.send_to(bytes_data=b"\x00\x01")
        assert (await ws.next("error"))["code"] == "bad_frame"
        await ws.usable()


@override_settings(RT_MAX_FRAME_BYTES=1024)
async def test_oversize_frame_is_refused(room: Room) -> None:
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        await ws.send({"type": "ping", "pad": "x" * 2000})
        assert (await ws.next("error"))["code"] == "too_large"
        # Multi-byte characters count as bytes, not characters.
        await ws.send('{"type": "ping", "pad": "' + "é" * 300 + '"}')
        assert await ws.next("pong", timeout=2)
        await ws.send('{"type": "ping", "pad": "' + "€" * 400 + '"}')
        assert (await ws.next("error"))["code"] == "too_large"
        await ws.usable()


@override_settings(RT_RATE_LIMIT_BURST=3, RT_RATE_LIMIT_PER_SECOND=0.01)
async def test_rate_limit(room: Room) -> None:
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        for _ in range(3):
            await ws.send({"type": "ping"})
            await ws.next("pong")
        await ws.send({"type": "ping", "ref": "over"})
        error = await ws.next("error")
        assert error["code"] == "rate_limited"


async def test_handler_exception_is_answered_not_raised(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ChatRoomConsumer, "on_history", broken)
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        await ws.send({"type": "history", "before_id": 5, "ref": "h1"})
        error = await ws.next("error")
        assert error["code"] == "internal_error"
        assert "boom" not in error["message"]  # no internals leak to the client
        await ws.usable()


async def test_event_handler_exception_does_not_kill_socket(
    room: Room, make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    typist = await database_sync_to_async(make_user)()

    async def broken(self: Any, event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ChatRoomConsumer, "chat_typing", broken, raising=False)
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        await services.typing_start(room=room, user=typist)
        assert (await ws.next("error"))["code"] == "internal_error"
        await ws.usable()


@pytest.mark.parametrize("origin", ["http://evil.example", None])
async def test_cross_origin_and_originless_handshakes_are_refused(
    room: Room, origin: str | None
) -> None:
    with pytest.raises(ConnectionRefusedError):
        async with open_socket(f"/ws/chat/{room.slug}/", origin=origin):
            pass


async def test_unknown_socket_path_is_refused() -> None:
    with pytest.raises(ConnectionRefusedError):
        async with open_socket("/ws/nothing-here/"):
            pass


async def test_every_error_of_a_parsed_frame_echoes_its_ref(
    room: Room, make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        ({"type": "dance", "ref": "u1"}, "unknown_type"),
        ({"type": "history", "ref": "i1"}, "invalid"),
        ({"type": "history", "before_id": "ten", "ref": "i2"}, "invalid"),
        ({"type": "message.send", "body": 12, "ref": "i3"}, "invalid"),
        ({"type": "message.send", "body": "x" * 20_001, "ref": "t1"}, "too_large"),
        ({"type": "message.send", "body": "hi", "ref": "a1"}, "auth_required"),
        ({"type": "typing", "ref": "a2"}, "auth_required"),
    ]
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        for frame, code in cases:
            await ws.send(frame)
            error = await ws.next("error")
            assert (error["code"], error.get("ref")) == (code, frame["ref"]), frame

        async def broken(self: Any, **kwargs: Any) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(ChatRoomConsumer, "on_history", broken)
        await ws.send({"type": "history", "before_id": 1, "ref": "x1"})
        assert (await ws.next("error"))["ref"] == "x1"  # internal_error too
        await ws.usable()


@override_settings(RT_RATE_LIMIT_BURST=2, RT_RATE_LIMIT_PER_SECOND=0.01)
async def test_a_rate_limited_frame_echoes_its_ref(room: Room) -> None:
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        for ref in ("p1", "p2"):
            await ws.send({"type": "ping", "ref": ref})
            assert (await ws.next("pong"))["ref"] == ref
        await ws.send({"type": "ping", "ref": "over"})
        error = await ws.next("error")
        assert (error["code"], error["ref"]) == ("rate_limited", "over")


async def test_actions_without_a_reply_of_their_own_are_acked(
    room: Room, make_user: Callable[..., Any]
) -> None:
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(user)
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        await ws.next("sync")
        # typing is fire-and-forget: answered only when it carries a ref.
        await ws.send({"type": "typing", "ref": "t1"})
        assert (await ws.next("ack"))["ref"] == "t1"
        await ws.next("typing")
        await ws.send({"type": "typing"})
        await ws.nothing("ack")


@pytest.mark.parametrize("cursor", ["\u0661", "\u0967", "\uff11", "1e3", "-1", " 1", "9" * 20])
async def test_a_cursor_is_ascii_digits_only(room: Room, cursor: str) -> None:
    """A cursor that is not plain ASCII digits is ignored: the socket starts fresh."""
    from urllib.parse import quote

    async with open_socket(f"/ws/chat/{room.slug}/?after_id={quote(cursor)}") as ws:
        assert (await ws.next("sync"))["mode"] == "recent"


async def test_a_session_that_cannot_be_read_closes_to_retry_not_as_a_visitor(
    room: Room, make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis away while a logged-in page reconnects: its session cannot be read. The
    socket closes with 4500 (the page retries), and is never let in as a visitor's, whose
    sends would be refused (seen: 42 posts refused in a 10 s Redis outage)."""
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(user)

    async def redis_away(cache: RedisCache, key: Any, *args: Any, **kwargs: Any) -> Any:
        raise redis.exceptions.ConnectionError("Connection refused")

    # On the class: each task has its own cache object. Django reads the session from
    # the database when the cache fails, then fails to cache what it read.
    real = {name: getattr(RedisCache, name) for name in ("aget", "aset")}
    for name in real:
        monkeypatch.setattr(RedisCache, name, redis_away)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/chat/{room.slug}/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", ORIGIN.encode()),
            (b"cookie", cookie.encode()),
        ],
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected  # accepted first, then checked (see realtime.consumers)
    first = await communicator.receive_output(timeout=10)
    assert first == {"type": "websocket.close", "code": 4500}
    await communicator.wait(timeout=2)
    for name, method in real.items():
        monkeypatch.setattr(RedisCache, name, method)
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        assert (await ws.next("sync"))["me"]["id"] == user.pk
