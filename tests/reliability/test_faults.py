"""Faults on real processes: group expiry, a broadcast lost after commit, a rolled-back
write. (Redis restarts and pauses, a killed process and the soak have files of their own.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chat import services as chat_services
from chat.models import Message, Room
from chat.services import messages as chat_messages
from tests.conftest import (
    Daphne,
    open_socket,
    replace_group_send,
    session_cookie,
    start_daphne,
    through_the_layer,
    ws_connect,
    ws_next,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_group_expiry_server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    server = start_daphne(tmp_path, env={"CHANNEL_LAYER_GROUP_EXPIRY": "2"})
    yield server
    server.stop()


async def test_a_socket_outlives_the_layers_group_expiry(
    short_group_expiry_server: Daphne, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = await database_sync_to_async(make_room)()
    author = await database_sync_to_async(make_user)()
    ws = await ws_connect(short_group_expiry_server, f"/ws/chat/{room.slug}/")
    try:
        await ws_next(ws, "sync")
        await asyncio.sleep(5)  # two and a half group lifetimes
        await database_sync_to_async(chat_services.message_post)(
            room=room, author=author, body="still subscribed"
        )
        assert (await ws_next(ws, "message", timeout=5))["message"]["body"] == "still subscribed"
    finally:
        await ws.close()


async def test_a_broadcast_lost_after_commit_is_recovered_on_resume(
    make_room: Callable[..., Room], make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(author)
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        sync = await ws.next("sync")
        cursor = sync["cursor"]
        layer = get_channel_layer()
        real_send = layer.group_send

        async def lost(*args: Any) -> None:
            raise ConnectionError("redis went away")

        replace_group_send(monkeypatch, layer, lost)
        through_the_layer(monkeypatch)  # lost for every process, this one's sockets too
        await ws.send({"type": "message.send", "body": "committed, never broadcast"})
        ack = await ws.next("ack")  # stored: the sender is told
        await ws.nothing("message", within=0.5)
        replace_group_send(monkeypatch, layer, real_send)
    # The page reconnects from its cursor and gets it.
    async with open_socket(f"/ws/chat/{room.slug}/?after_id={cursor}", cookie=cookie) as ws:
        sync = await ws.next("sync")
        assert sync["mode"] == "resume"
        assert [(m["id"], m["body"]) for m in sync["messages"]] == [
            (ack["id"], "committed, never broadcast")
        ]


async def test_a_rolled_back_post_broadcasts_nothing(
    make_room: Callable[..., Room], make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await database_sync_to_async(make_room)()
    author = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(author)

    def failing_prune(room: Room) -> list[int]:
        raise RuntimeError("the transaction fails after the insert")

    monkeypatch.setattr(chat_messages, "room_prune_locked", failing_prune)
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        await ws.next("sync")
        await ws.send(json.dumps({"type": "message.send", "body": "rolled back"}))
        assert (await ws.next("error"))["code"] == "internal_error"
        await ws.nothing("message", within=0.5)
        await ws.usable()
    assert not await database_sync_to_async(Message.objects.filter(room=room).exists)()
