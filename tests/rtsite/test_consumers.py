"""The base JSON consumer, exercised through a real socket on the real Redis layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from chat import services
from chat.consumers import ChatRoomConsumer
from chat.models import Room
from tests.conftest import open_socket

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

    monkeypatch.setattr(ChatRoomConsumer, "chat_typing", broken)
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
