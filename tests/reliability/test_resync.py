"""A hub that falls behind under load resyncs its sockets on the same socket, and no open
page misses anything.

Two daphne processes, page-like readers in several rooms spread over both, posters on
both. Events older than RT_STALE_EVENT_SECONDS (set low here) are not replayed but
resynced, and one process is paused now and then, so its hub wakes up far behind. Two
processes publish in the order their own commits end, so a reader can get seq n+1 before
n: a resync that started after the newest seq sent, not after the first one missed,
skipped n for good, and its cursor hid the gap from the page. Every reader keeps its
cursor as live.js does and never reconnects here, so whatever it lacks at the end was
skipped by the server."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Message, Room
from tests.conftest import Daphne, start_daphne
from tests.reliability.chatload import (
    committed_by_room,
    lacking,
    rooms_under_load,
    stop,
    until,
    wait_until_rooms_delivered,
)
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

CHAOS = os.environ.get("RT_CHAOS") == "1"
ROOMS = 10 if CHAOS else 3
READERS_PER_ROOM = 20 if CHAOS else 8
RATE = 8.0 if CHAOS else 6.0  # per room: 80 posts/s in all at chaos size
PAUSES = 6 if CHAOS else 4
ENV = {
    "RT_RATE_LIMIT_PER_SECOND": "100000",
    "RT_RATE_LIMIT_BURST": "100000",
    # Behind by more than this: resync instead of replay (production: 5 s).
    "RT_STALE_EVENT_SECONDS": "0.2",
}


@pytest.fixture
def two_servers(django_db_setup: None, tmp_path: Path) -> Iterator[tuple[Daphne, Daphne]]:
    servers = (start_daphne(tmp_path, env=ENV), start_daphne(tmp_path, env=ENV))
    yield servers
    for server in servers:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


def resyncs(server: Daphne) -> int:
    return server.log.read_text(errors="replace").count("resyncing")


async def test_a_hub_behind_under_load_skips_nothing_on_any_open_page(
    two_servers: tuple[Daphne, Daphne],
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> None:
    rooms, readers, posters = await rooms_under_load(
        [server.ws_url for server in two_servers],
        rooms=ROOMS,
        readers_per_room=READERS_PER_ROOM,
        posters_per_room=2,  # one starting on each process, so their seqs interleave
        rate=RATE / 2,
        make_room=make_room,
        make_user=make_user,
    )
    tasks = [asyncio.create_task(client.run()) for client in (*readers, *posters)]
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        await asyncio.sleep(1)
        paused = two_servers[0].process
        for _ in range(PAUSES):
            paused.send_signal(signal.SIGSTOP)
            await asyncio.sleep(0.7)
            paused.send_signal(signal.SIGCONT)
            await asyncio.sleep(1.5)
        for poster in posters:
            poster.stopped = True
        await until(lambda: all(p.ws is None for p in posters), 30)
        committed = committed_by_room(posters)
        caught_up = await wait_until_rooms_delivered(readers, committed, timeout=20)
    finally:
        await stop([*posters, *readers], tasks)
    stored = await database_sync_to_async(
        lambda: set(Message.objects.filter(room__in=rooms).values_list("pk", flat=True))
    )()
    short = lacking(readers, committed)
    count = sum(resyncs(server) for server in two_servers)
    report(
        f"[hub behind] rooms={ROOMS} readers={len(readers)} posts/s={RATE * ROOMS:g} "
        f"pauses={PAUSES} committed={sum(map(len, committed.values()))} resync_lines={count} "
        f"reader_reconnects={sum(r.reconnects for r in readers)} "
        f"pages_missing={len(short)} deliveries_missing={sum(short)} "
        f"caught_up_s={caught_up and round(caught_up, 2)}"
    )
    assert stored
    assert {id for ids in committed.values() for id in ids} == stored
    assert count > 0, "no hub fell behind: the test did not test the resync"
    # A reader that reconnected resumed from its own cursor and may have filled a gap the
    # server left: the test is about open pages, so none may have.
    assert sum(r.reconnects for r in readers) == 0
    assert not short, f"{len(short)} open pages miss {sum(short)} deliveries"
