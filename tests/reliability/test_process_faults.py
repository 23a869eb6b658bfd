"""One of two daphne processes killed mid-conversation: its clients reconnect to the other
and resume; nothing committed is lost, nothing is shown twice."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Room
from tests.conftest import Daphne, session_cookie, start_daphne
from tests.reliability.chatload import Poster, Reader, stop, until, wait_until_delivered
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

CHAOS = os.environ.get("RT_CHAOS") == "1"
CLIENTS = 200 if CHAOS else 40
RATE = 100.0 if CHAOS else 20.0
LOAD_ENV = {"RT_RATE_LIMIT_PER_SECOND": "100000", "RT_RATE_LIMIT_BURST": "100000"}


@pytest.fixture
def two_servers(django_db_setup: None, tmp_path: Path) -> Iterator[tuple[Daphne, Daphne]]:
    servers = (start_daphne(tmp_path, env=LOAD_ENV), start_daphne(tmp_path, env=LOAD_ENV))
    yield servers
    for server in servers:
        server.stop()


async def test_a_killed_process_loses_nothing(
    two_servers: tuple[Daphne, Daphne],
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> None:
    doomed, survivor = two_servers
    room = await database_sync_to_async(make_room)(retention=0)
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    path = f"/ws/chat/{room.slug}/"
    urls = [doomed.ws_url, survivor.ws_url]
    readers = [Reader(urls, path, server=i % 2) for i in range(CLIENTS)]
    poster = Poster(urls, path, cookie, RATE)  # starts on the doomed process
    tasks = [asyncio.create_task(r.run()) for r in readers]
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        tasks.append(asyncio.create_task(poster.run()))
        await asyncio.sleep(2)
        on_doomed = [r for r in readers if r.server % 2 == 0]
        doomed.process.kill()
        killed_at = time.monotonic()
        await until(lambda: all(r.server % 2 == 1 and r.ws is not None for r in on_doomed), 10)
        moved_in = time.monotonic() - killed_at
        await asyncio.sleep(2)  # the conversation goes on through the survivor
        committed = list(poster.committed)
        caught_up = await wait_until_delivered(readers, committed, timeout=10)
    finally:
        await stop([poster, *readers], tasks)
    report(
        f"[daphne killed] clients={CLIENTS} rate={RATE:g}/s committed={len(committed)} "
        f"moved_to_survivor_s={moved_in:.2f} caught_up_s={caught_up and round(caught_up, 2)} "
        f"duplicates_dropped={sum(r.duplicates for r in readers)}"
    )
    assert moved_in <= 5, f"clients took {moved_in:.1f} s to reach the other process"
    assert caught_up is not None, "committed messages missing after the failover"
    # Each client holds each message once (the page shows a set of ids, in order).
    for reader in readers:
        assert set(committed) <= reader.ids
