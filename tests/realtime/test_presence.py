"""Presence in Redis: renewed in batches while sockets are open, gone when a process dies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from chat import protocol as chat_protocol
from chat.models import Room
from realtime import presence
from tests.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(RT_PRESENCE_TTL_SECONDS=1)
async def test_open_sockets_stay_online_and_dead_ones_expire(
    make_room: Callable[..., Room], make_user: Callable[..., Any], login_cookie: Callable[..., str]
) -> None:
    room = await database_sync_to_async(make_room)()
    key = chat_protocol.room_presence(room.pk)
    alice = await database_sync_to_async(make_user)("alice")
    cookie = await database_sync_to_async(login_cookie)(alice)
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        await ws.next("sync")
        # A socket of another process that then dies: nobody renews it.
        await presence._run(key, add="999\tghost\tdead-socket", user="999\tghost")
        users, count = await presence.online_users(room_id=key, limit=10)
        assert (sorted(u["username"] for u in users), count) == (["alice", "ghost"], 2)
        await asyncio.sleep(2.5)  # past the TTL; this process renewed alice's entry
        users, count = await presence.online_users(room_id=key, limit=10)
        assert ([u["username"] for u in users], count) == (["alice"], 1)
    users, count = await presence.online_users(room_id=key, limit=10)
    assert (users, count) == ([], 0)


async def test_a_purge_takes_dead_processes_sockets_and_never_this_ones() -> None:
    """realtime.processes: socket ids end with their process's id; a dead process's
    entries go (its alive key lapsed), this process's stay even before its first
    heartbeat, and another process's that renews its key stay too."""
    from django.conf import settings

    from common.redis import get_async_redis
    from realtime.registry import PROCESS_ID, alive_key, new_socket_id

    room = "purge-test"
    redis = get_async_redis()
    await redis.delete(alive_key(PROCESS_ID))  # as before this process's first heartbeat
    await redis.set(alive_key("livelyproc01"), "{}", px=5000)
    mine = new_socket_id()
    for user_id, socket_id in (
        (1, mine),
        (2, "a" * 32 + ".deadproc0001"),
        (3, "b" * 32 + ".livelyproc01"),
    ):
        await presence.enter(
            room_id=room, user_id=user_id, username=f"u{user_id}", socket_id=socket_id
        )
    recount = await presence.purge_dead(room_id=room)
    assert recount.gone == 1
    assert recount.elsewhere  # the lively process's socket
    assert not recount.suspect  # it renewed its key just now
    users, count = await presence.online_users(room_id=room, limit=10)
    assert (sorted(u["id"] for u in users), count) == ([1, 3], 2)
    assert settings.RT_PROCESS_DEAD_SECONDS >= 2 * settings.RT_HEARTBEAT_SECONDS
