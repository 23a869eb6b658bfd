"""The per-process hub: one layer membership per process, and recovery after an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chat.models import Message, Room
from rtsite.hub import get_hub
from tests.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_one_layer_member_per_process_however_many_sockets(
    make_room: Callable[..., Room], make_user: Callable[..., Any], login_cookie: Callable[..., str]
) -> None:
    room = await database_sync_to_async(make_room)()
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(login_cookie)(user)
    layer = get_channel_layer()
    group_key = layer._group_key(room.group_name)
    async with (
        open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as a,
        open_socket(f"/ws/chat/{room.slug}/") as b,
        open_socket(f"/ws/chat/{room.slug}/") as c,
    ):
        for ws in (a, b, c):
            await ws.next("sync")
        assert await layer.connection(0).zcard(group_key) == 1
        assert get_hub().local_count(room.group_name) == 3
        await a.send({"type": "message.send", "body": "to all three"})
        for ws in (a, b, c):
            assert (await ws.next("message"))["message"]["body"] == "to all three"
    assert get_hub().local_count(room.group_name) == 0
    assert await layer.connection(0).zcard(group_key) == 0


async def test_outage_is_noticed_and_missed_messages_are_resent(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    layer = get_channel_layer()
    real_receive = layer.receive
    outage = asyncio.Event()
    failures = []

    async def receive(channel: str) -> dict[str, Any]:
        if not failures:
            await outage.wait()
            failures.append(channel)
            raise ConnectionError("Redis went away")
        return await real_receive(channel)

    monkeypatch.setattr(layer, "receive", receive)
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        # Stored while the layer is down: no broadcast reaches anyone.
        missed = await database_sync_to_async(Message.objects.create)(
            room=room, author=author, body="sent during the outage"
        )
        outage.set()
        resync = await ws.next("sync")
        assert resync["mode"] == "resume"
        assert [m["id"] for m in resync["messages"]] == [missed.pk]
        assert failures
