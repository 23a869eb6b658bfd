"""A storm of twice what one process can serve within RT_CONNECT_SHED_SECONDS: the excess
is refused at once with HTTP 503 and Retry-After (realtime/server/admission.py), clients that
honour it all join on a later attempt, nothing fails any other way, and the metrics
count what was shed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async

from chat.models import Room
from tests.conftest import Daphne, start_daphne, ws_connect, ws_next
from tests.realtime.server.test_metrics import scrape, value
from tests.reliability.figures import report
from tests.reliability.test_storm import logged_in_sessions

pytestmark = pytest.mark.django_db(transaction=True)

SHED_SECONDS = 1.0
CALIBRATION = 60


@pytest.fixture
def shedding_server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    server = start_daphne(
        tmp_path,
        env={"LOG_LEVEL": "WARNING", "RT_CONNECT_SHED_SECONDS": str(SHED_SECONDS)},
    )
    yield server
    server.stop()


async def test_a_storm_beyond_capacity_is_shed_cleanly(
    shedding_server: Daphne, make_room: Callable[..., Room]
) -> None:
    room = await database_sync_to_async(make_room)()
    path = f"/ws/chat/{room.slug}/"
    # What this process serves in SHED_SECONDS, measured on a storm it takes whole.
    cookies = await database_sync_to_async(logged_in_sessions)(CALIBRATION)
    calibration = await asyncio.gather(*(ws_connect(shedding_server, path, c) for c in cookies))
    for ws in calibration:
        await ws_next(ws, "sync", timeout=60)
    for ws in calibration:
        await ws.close()
    # The process's own measure of a connect (what it sheds by).
    per_connect = value(
        await asyncio.to_thread(scrape, shedding_server.url), "rtsite_connect_seconds"
    )
    capacity = int(SHED_SECONDS / per_connect)
    storm = min(1500, 2 * capacity)
    cookies = await database_sync_to_async(logged_in_sessions)(storm)
    before = await asyncio.to_thread(scrape, shedding_server.url)
    refusals: Counter[str] = Counter()
    retry_afters: list[int] = []
    start = time.monotonic()

    async def join(cookie: str) -> tuple[Any, int]:
        attempts = 0
        while True:
            attempts += 1
            try:
                ws = await ws_connect(shedding_server, path, cookie)
            except websockets.InvalidStatus as refused:
                response = refused.response
                refusals[str(response.status_code)] += 1
                retry_after = int(response.headers.get("Retry-After", "-1"))
                retry_afters.append(retry_after)
                await asyncio.sleep(retry_after)  # honoured, as asked
                continue
            await ws_next(ws, "sync", timeout=120)
            return ws, attempts

    results = await asyncio.gather(*(join(c) for c in cookies), return_exceptions=True)
    took = time.monotonic() - start
    failed = [r for r in results if isinstance(r, BaseException)]
    joined = [r for r in results if not isinstance(r, BaseException)]
    first = sum(1 for _, attempts in joined if attempts == 1)
    for ws, _ in joined:
        await ws.close()
    after = await asyncio.to_thread(scrape, shedding_server.url)
    shed_counted = value(after, "rtsite_handshakes_shed_total") - value(
        before, "rtsite_handshakes_shed_total"
    )
    report(
        f"[shed] capacity ~{capacity} sockets in {SHED_SECONDS:g} s ({per_connect * 1000:.1f} ms "
        f"a connect); storm {storm}: {first} joined at once, {refusals['503']} refusals (503), "
        f"Retry-After {min(retry_afters, default=0)}-{max(retry_afters, default=0)} s, "
        f"all {len(joined)} joined in {took:.1f} s, {len(failed)} failed otherwise"
    )
    assert not failed, sorted({repr(error)[:200] for error in failed})
    assert set(refusals) == {"503"}, refusals
    assert all(seconds >= 1 for seconds in retry_afters)
    assert first < storm, "nothing was shed"
    assert shed_counted == refusals["503"]
