"""A rolling restart of two daphne processes under chat load (SIGTERM, realtime/server/drain.py):
each process stops accepting, answers what is on its way, sends every socket ``closing``
(``restart``) and closes it with 1012, spread over the drain window, then exits. Nothing
is lost, nothing stored twice, and no send goes without an ack or a clear error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async

from chat.models import Message, Room
from tests.conftest import Daphne, session_cookie, start_daphne
from tests.reliability.chatload import (
    committed_by_room,
    lacking,
    poster_socket,
    rooms_under_load,
    stop,
    until,
    wait_until_rooms_delivered,
)
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

CHAOS = os.environ.get("RT_CHAOS") == "1"
# As seen from outside (issue 25): 200 clients in 10 rooms of 20, 80 posts/s in all.
ROOMS = 10 if CHAOS else 2
READERS_PER_ROOM = 20
POSTERS_PER_ROOM = 2  # one starting on each process
RATE = 4.0 if CHAOS else 5.0  # per poster
DRAIN_SECONDS = 2.0
ENV = {
    "RT_RATE_LIMIT_PER_SECOND": "100000",
    "RT_RATE_LIMIT_BURST": "100000",
    "RT_DRAIN_SECONDS": str(DRAIN_SECONDS),
}


@pytest.fixture
def two_servers(django_db_setup: None, tmp_path: Path) -> Iterator[tuple[Daphne, Daphne]]:
    servers = (start_daphne(tmp_path, env=ENV), start_daphne(tmp_path, env=ENV))
    yield servers
    for server in servers:
        server.stop()


def restart(server: Daphne) -> float:
    """SIGTERM, wait for the exit, start again; the seconds the drain took."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)
    drained = time.monotonic() - started
    server.start()
    return drained


async def test_a_rolling_restart_loses_nothing(
    two_servers: tuple[Daphne, Daphne],
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> None:
    rooms, readers, posters = await rooms_under_load(
        [server.ws_url for server in two_servers],
        rooms=ROOMS,
        readers_per_room=READERS_PER_ROOM,
        posters_per_room=POSTERS_PER_ROOM,
        rate=RATE,
        make_room=make_room,
        make_user=make_user,
    )
    tasks = [asyncio.create_task(client.run()) for client in (*readers, *posters)]
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        await asyncio.sleep(1)
        drains = []
        for server in two_servers:  # one at a time, as `make restart` does
            drains.append(await asyncio.to_thread(restart, server))
            await asyncio.sleep(1)
        await asyncio.sleep(1)
        for poster in posters:
            poster.stopped = True
        await until(lambda: all(p.ws is None for p in posters), 15)
        committed = committed_by_room(posters)
        caught_up = await wait_until_rooms_delivered(readers, committed, timeout=15)
    finally:
        await stop([*posters, *readers], tasks)
    stored = await database_sync_to_async(
        lambda: Counter(Message.objects.filter(room__in=rooms).values_list("body", flat=True))
    )()
    made = {nonce for p in posters for nonce in p.nonces()}
    codes = Counter(code for p in posters for code in p.close_codes)
    unanswered = sum(p.unanswered for p in posters)
    errors = sum(len(p.errors) for p in posters)
    short = lacking(readers, committed)
    report(
        f"[rolling restart] rooms={ROOMS} readers={len(readers)} "
        f"posts/s={RATE * len(posters):g} drain_s={[round(d, 1) for d in drains]} "
        f"committed={sum(map(len, committed.values()))} unanswered={unanswered} "
        f"errors={errors} poster_close_codes={dict(codes)} "
        f"reader_reconnects={sum(r.reconnects for r in readers)} "
        f"deliveries_missing={sum(short)} "
        f"caught_up_s={caught_up and round(caught_up, 2)}"
    )
    assert all(committed.values())
    assert caught_up is not None, f"committed messages missing for {len(short)} readers"
    assert unanswered == 0, "a send went without an answer"
    assert errors == 0, "errors during the restart"
    assert made == {nonce for p in posters for nonce in p.acked}, "a message never acked"
    assert set(stored) == made
    assert all(count == 1 for count in stored.values()), "a message was stored twice"
    assert not short
    assert codes[1012] >= 2, codes
    assert all(reason == "restart" for p in posters for reason in p.closings)


async def test_a_client_slow_to_see_closing_gets_every_send_answered(
    django_db_setup: None,
    tmp_path: Path,
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> None:
    """On a loaded machine the ``closing`` frame can reach a client late, and it sends
    until then: the socket stays open until its client has been quiet, not a fixed time."""
    server = start_daphne(tmp_path, env=ENV)
    try:
        room = await database_sync_to_async(make_room)(retention=0)
        user = await database_sync_to_async(make_user)()
        cookie = await database_sync_to_async(session_cookie)(user)
        async with poster_socket(server.ws_url, f"/ws/chat/{room.slug}/", cookie) as ws:
            assert json.loads(await ws.recv())["type"] == "sync"
            server.process.send_signal(signal.SIGTERM)
            answered: set[str] = set()
            sent: list[str] = []
            closing_at = None

            async def answers() -> None:
                nonlocal closing_at
                with contextlib.suppress(websockets.ConnectionClosed):  # 1012 raises
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame["type"] == "closing":
                            closing_at = time.monotonic()
                        elif frame["type"] in ("ack", "error"):
                            answered.add(frame["ref"])

            reading = asyncio.create_task(answers())
            # It goes on sending for 1.5 s after the closing frame came (three times the
            # settle time), as if it had only seen it then.
            while closing_at is None or time.monotonic() - closing_at < 1.5:
                ref = f"r{len(sent)}"
                sent.append(ref)
                await ws.send(json.dumps({"type": "message.send", "body": ref, "ref": ref}))
                await asyncio.sleep(0.1)
            await asyncio.wait_for(reading, 15)
            assert ws.close_code == 1012
        assert answered == set(sent)
    finally:
        server.stop()
