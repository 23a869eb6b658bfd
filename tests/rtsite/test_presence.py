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
from rtsite import presence
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
