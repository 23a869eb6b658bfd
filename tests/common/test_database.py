"""Hot writes on a pool of database threads (PostgreSQL, RT_DB_THREADS), else on the one
database thread; a post made on the pool is still broadcast after its commit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import override_settings

from chat.models import Room
from common.database import write_to_async
from tests.conftest import open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def _thread_name() -> str:
    return threading.current_thread().name


async def test_the_pool_is_used_on_postgresql_only() -> None:
    one_thread = await database_sync_to_async(_thread_name)()
    with override_settings(RT_DB_THREADS=3):
        name = await write_to_async(_thread_name)()
    if connection.vendor == "postgresql":
        assert name.startswith("rtsite-db")
    else:
        assert name == one_thread  # SQLite: its one writer at a time, on the one thread
    with override_settings(RT_DB_THREADS=1):
        assert await write_to_async(_thread_name)() == one_thread


@override_settings(RT_DB_THREADS=3)
async def test_posts_on_the_pool_are_stored_in_order_and_broadcast(
    make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        await ws.next("sync")
        for i in range(6):
            await ws.send({"type": "message.send", "body": f"m{i}", "ref": f"r{i}"})
        seqs = []
        for _ in range(6):
            seqs.append((await ws.next("message"))["message"]["seq"])
        assert sorted(seqs) == list(range(1, 7))  # each stored once, numbered in turn
