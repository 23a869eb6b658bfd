"""Redis killed and restarted, or paused, under chat load, on real processes: no
committed message is lost, every client catches up by cursor, and afterwards a new
message reaches every client (no socket silently left out of its group).

CI runs a smaller load; `make chaos` (RT_CHAOS=1) runs the issue's sizes: 200 clients,
100 messages/s, a 30 s pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async

from chat.models import Message, Room
from tests.conftest import Daphne, RedisServer, free_port, session_cookie, start_daphne
from tests.reliability.chatload import Poster, Reader, missing, stop, until, wait_until_delivered
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

CHAOS = os.environ.get("RT_CHAOS") == "1"
CLIENTS = 200 if CHAOS else 50
RATE = 100.0 if CHAOS else 20.0
KILLED_FOR = 3.0 if CHAOS else 2.0
PAUSED_FOR = 30.0 if CHAOS else 8.0
# The layer's read time-out (30 s by default) is what notices a paused Redis; CI uses a
# shorter one so its shorter pause is noticed too.
SOCKET_TIMEOUT = "30" if CHAOS else "6"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(port=free_port(), directory=tmp_path)
    server.start()
    yield server
    with contextlib.suppress(Exception):
        server.resume()
        server.kill()


@pytest.fixture
def fault_server(django_db_setup: None, tmp_path: Path, own_redis: RedisServer) -> Iterator[Daphne]:
    server = start_daphne(
        tmp_path,
        env={
            "REDIS_URL": own_redis.url,
            "RT_RATE_LIMIT_PER_SECOND": "100000",
            "RT_RATE_LIMIT_BURST": "100000",
            "CHANNEL_LAYER_SOCKET_TIMEOUT": SOCKET_TIMEOUT,
            # A 30 s gap at 100 messages/s is 3,000 messages: resuming that by cursor
            # needs a resume limit above the default 1,000 (beyond it a page starts over
            # from the latest messages, the rest still in its history).
            "CHAT_RESUME_LIMIT": "5000",
        },
    )
    yield server
    server.stop()


async def _run_with_fault(
    server: Daphne, room: Room, cookie: str, fault: Callable[[], Any], label: str
) -> None:
    path = f"/ws/chat/{room.slug}/"
    readers = [Reader([server.ws_url], path) for _ in range(CLIENTS)]
    poster = Poster([server.ws_url], path, cookie, RATE)
    tasks = [asyncio.create_task(r.run()) for r in readers]
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        tasks.append(asyncio.create_task(poster.run()))
        await asyncio.sleep(2)
        await fault()  # returns when Redis is back
        back = time.monotonic()
        committed = list(poster.committed)
        caught_up = await wait_until_delivered(readers, committed, timeout=10)
        lost_at_deadline = missing(readers, committed)
        # Then a new message must reach every client.
        before = len(poster.committed)
        await until(lambda: len(poster.committed) > before)
        fresh = poster.committed[before]
        reached = await wait_until_delivered(readers, [fresh], timeout=2)
        await asyncio.sleep(1)
    finally:
        await stop([poster, *readers], tasks)
    stored = set(
        await database_sync_to_async(
            lambda: list(Message.objects.filter(room=room).values_list("id", flat=True))
        )()
    )
    acked = set(poster.committed)
    report(
        f"[{label}] clients={CLIENTS} rate={RATE:g}/s sent={poster.sent} "
        f"committed={len(acked)} stored={len(stored)} "
        f"lost_after_10s={lost_at_deadline} caught_up_s={caught_up and round(caught_up, 2)} "
        f"new_message_reached_all_s={reached and round(reached, 3)} "
        f"duplicates_dropped={sum(r.duplicates for r in readers)} "
        f"reconnects={sum(r.reconnects for r in readers)} "
        f"since_back_s={time.monotonic() - back:.1f}"
    )
    assert acked <= stored  # every acknowledged message is stored
    assert caught_up is not None, f"{lost_at_deadline} deliveries missing 10 s after Redis returned"
    assert reached is not None, "a message after recovery did not reach every client in 2 s"


async def _room_and_poster(
    make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> tuple[Room, str]:
    room = await database_sync_to_async(make_room)(retention=0)
    poster = await database_sync_to_async(make_user)()
    return room, await database_sync_to_async(session_cookie)(poster)


@pytest.mark.parametrize("fault", ["killed", "paused"])
async def test_redis_fault_under_chat_load(
    fault: str,
    fault_server: Daphne,
    own_redis: RedisServer,
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> None:
    room, cookie = await _room_and_poster(make_room, make_user)

    async def kill_and_restart() -> None:
        own_redis.kill()
        await asyncio.sleep(KILLED_FOR)
        own_redis.start()

    async def pause_and_resume() -> None:
        own_redis.pause()
        await asyncio.sleep(PAUSED_FOR)
        own_redis.resume()

    injure = kill_and_restart if fault == "killed" else pause_and_resume
    await _run_with_fault(fault_server, room, cookie, injure, f"redis {fault}")
    assert fault_server.process.poll() is None  # the server did not crash


async def test_a_failure_while_connecting_reaches_the_client_as_4500(
    fault_server: Daphne, own_redis: RedisServer, make_room: Callable[..., Room], make_user: Any
) -> None:
    """Redis is down while a socket connects: the handshake was already accepted, so the
    client gets the documented, retryable 4500 (not an HTTP 403 it would not retry)."""
    room = await database_sync_to_async(make_room)()
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    own_redis.kill()
    for path, who in ((f"/ws/chat/{room.slug}/", cookie), ("/ws/notifications/", None)):
        ws = await websockets.connect(
            f"{fault_server.ws_url}{path}",
            origin=fault_server.url,
            additional_headers={"Cookie": who} if who else {},
            open_timeout=30,
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4500


async def test_a_logged_in_page_reconnecting_through_a_redis_outage_is_never_a_visitor(
    fault_server: Daphne, own_redis: RedisServer, make_room: Callable[..., Room], make_user: Any
) -> None:
    """A page that reconnects again and again while Redis is killed and started: each
    attempt is closed to be retried (4500 or 1013) or let in as its user, never as a
    visitor (whose sends are refused: the page said "Not sent" for messages it would have
    sent once Redis was back). Its pending send, sent again with its nonce, is stored
    once."""
    room = await database_sync_to_async(make_room)(retention=0)
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(user)
    path = f"{fault_server.ws_url}/ws/chat/{room.slug}/"
    codes: list[int] = []
    me = []

    async def attempt() -> Any:
        ws = await websockets.connect(
            path, origin=fault_server.url, additional_headers={"Cookie": cookie}, open_timeout=30
        )
        try:
            sync = json.loads(await asyncio.wait_for(ws.recv(), 30))
        except websockets.ConnectionClosed as closed:
            codes.append(closed.rcvd.code if closed.rcvd else 0)
            return None
        me.append(sync["me"])
        return ws

    own_redis.kill()
    killed_at = time.monotonic()
    restarted = False
    attempts: set[asyncio.Task[Any]] = set()
    ws = None
    deadline = killed_at + 30
    # Attempts overlap (one every 50 ms), so some are half-way through their connect
    # when Redis comes back: the session read failed, and the rest would now succeed.
    while ws is None and time.monotonic() < deadline:
        if not restarted and (len(codes) >= 3 or time.monotonic() - killed_at > 3):
            own_redis.start()
            restarted = True
        attempts.add(asyncio.create_task(attempt()))
        await asyncio.sleep(0.05)
        for task in [t for t in attempts if t.done()]:
            attempts.discard(task)
            with contextlib.suppress(OSError, TimeoutError):
                ws = task.result() or ws
    for task in attempts:
        with contextlib.suppress(Exception):
            late = await task
            if late is not None:
                await late.close()
    report(f"[session through a redis outage] refused={len(codes)} codes={sorted(set(codes))}")
    assert ws is not None, "never let in after Redis came back"
    try:
        assert all(who == {"id": user.pk, "username": user.get_username()} for who in me), me
        assert codes, "no attempt met the outage"
        assert set(codes) <= {4500, 1013}
        acked = []
        for ref in ("first", "again"):  # the pending send, then its resend after a lost ack
            frame = {"type": "message.send", "body": "kept", "nonce": "n-1", "ref": ref}
            await ws.send(json.dumps(frame))
            while (answer := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "ack":
                assert answer["type"] != "error", answer
            acked.append(answer["id"])
    finally:
        await ws.close()
    assert acked[0] == acked[1]
    stored = await database_sync_to_async(Message.objects.filter(room=room).count)()
    assert stored == 1
