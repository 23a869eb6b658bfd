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
from realtime.server import drain
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


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each pipeline of presence changes sent to Redis."""
    sizes: list[int] = []
    send = presence._Changes._send

    async def counted(self: Any, key: None, runs: list[Any]) -> None:
        sizes.append(len(runs))
        await send(self, key, runs)

    monkeypatch.setattr(presence._Changes, "_send", counted)
    return sizes


async def test_changes_asked_together_go_in_one_round_trip_in_the_order_asked(
    batches: list[int],
) -> None:
    # Thirty tabs of one user connecting at once: one pipeline, and each tab's count is
    # its place in the order the enters were asked.
    changes = await asyncio.gather(
        *(
            presence.enter(room_id="batch-test", user_id=7, username="u", socket_id=f"s{i}")
            for i in range(30)
        )
    )
    assert batches == [30]
    assert [change.sockets for change in changes] == list(range(1, 31))
    assert changes[0].first
    assert not changes[1].first
    # Leaves asked while enters are on their way go in the next batch, after them.
    leaving = [
        presence.leave(room_id="batch-test", user_id=7, username="u", socket_id=f"s{i}")
        for i in range(30)
    ]
    gone = await asyncio.gather(*leaving)
    assert [change.sockets for change in gone] == list(range(29, -1, -1))
    assert gone[-1].last


async def test_a_change_redis_refuses_fails_alone_and_counts_read_in_one_round_trip(
    batches: list[int],
) -> None:
    good = presence.enter(room_id="batch-ok", user_id=1, username="a", socket_id="s1")
    bad = presence._changes.get().run((presence._CHANGE, 2, "k1", "k2", "not a time"))
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert results[0].online == 1
    assert isinstance(results[1], Exception)
    counts = await presence.online_counts(room_ids=["batch-ok", "batch-none", "batch-no"])
    assert counts == {"batch-ok": 1, "batch-none": 0, "batch-no": 0}
    assert batches == [2, 3]
    await presence.leave(room_id="batch-ok", user_id=1, username="a", socket_id="s1")


async def test_a_closing_socket_is_counted_open_until_its_presence_is_counted_out(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    login_cookie: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A drain exits once no socket is open: a socket must stay open to it until its
    # presence is counted out, or its entries outlive the process (until the TTL).
    room = await database_sync_to_async(make_room)()
    alice = await database_sync_to_async(make_user)("alice")
    cookie = await database_sync_to_async(login_cookie)(alice)
    open_while_leaving: list[bool] = []
    leave = presence.leave

    async def watched_leave(**kwargs: Any) -> presence.Change:
        open_while_leaving.append(bool(drain.open_sockets()))
        return await leave(**kwargs)

    monkeypatch.setattr(presence, "leave", watched_leave)
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        await ws.next("sync")
    assert open_while_leaving == [True, True]  # the room, then the account's count
    assert drain.open_sockets() == []
    key = chat_protocol.room_presence(room.pk)
    assert await presence.online_users(room_id=key, limit=10) == ([], 0)
