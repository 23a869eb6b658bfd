"""Which processes of the site are alive, and what a dead one leaves behind.

Each daphne process registers itself in the project's Redis and renews an "alive" key
every RT_HEARTBEAT_SECONDS; the key lapses RT_PROCESS_DEAD_SECONDS after the last
renewal. A process that stops renewing (killed, frozen, its host gone) is dead to the
others, and the first live process to notice cleans up after it:

- its hub leaves every layer group it was in (otherwise the layer keeps it for
  CHANNEL_LAYER_GROUP_EXPIRY, a day, and broadcasts pile up in its channel);
- its sockets leave every presence room they were counted in: the per-user and
  per-address socket caps and the "online" lists (otherwise they count until
  RT_PRESENCE_TTL_SECONDS).

So a dead process is forgotten within RT_PROCESS_DEAD_SECONDS plus one janitor pass
(RT_HEARTBEAT_SECONDS). A socket refused for its user's cap checks at once whether the
sockets it counted still have a live process (``realtime.consumers``), so someone
reconnecting right after a crash is never refused for sockets that no longer exist.

A process that was only frozen (SIGSTOP, a long pause) and comes back finds its alive key
gone: it joins its groups again, counts its sockets in again, and resyncs every socket
from its cursor, since broadcasts meant for it went elsewhere meanwhile.

The heartbeat also sends a ping through the channel layer to the process's own hub:
readiness (``realtime.server.views``) asks that the hub received something within the last few
seconds, which proves the whole broadcast path, not only that Redis answers a PING.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from typing import Any, cast

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from common.loops import PerLoop
from common.reactor import installed_reactor
from common.redis import get_async_redis
from common.tasks import spawn
from realtime import metrics, presence
from realtime.envelope import PING_TYPE
from realtime.hub import get_hub
from realtime.layers import channel_layer
from realtime.registry import (
    PROCESS_ID,
    alive,
    alive_key,
    get_record,
    registry_key,
    state_key,
    state_ttl,
)

logger = logging.getLogger(__name__)

# Group memberships a cleanup discards at once (concurrent layer calls).
DISCARD_BATCH = 50


class Process:
    """This process's registration: heartbeat, self-ping, janitor, latency probes."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.beats = 0
        self.last_db_probe = 0.0
        self.started_at: float | None = None
        self.failing = False  # the last heartbeat failed (Redis away)
        self.cleanups: dict[str, asyncio.Task[bool]] = {}
        self.rejoin: asyncio.Task[None] | None = None

    def age(self) -> float:
        """Seconds since this process started its heartbeat."""
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at

    def start(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()
        if self.task is None or self.task.done():
            self.task = spawn(self._run(), name="rtsite-process")

    async def _run(self) -> None:
        hub = get_hub()
        channel = await hub.address()
        while True:
            started = time.monotonic()
            try:
                await self._beat(hub, channel)
                self.failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not self.failing:  # once per outage, not once a second
                    logger.warning("heartbeat failed; trying again", exc_info=True)
                self.failing = True
            await asyncio.sleep(
                max(0.0, settings.RT_HEARTBEAT_SECONDS - (time.monotonic() - started))
            )

    async def _beat(self, hub: Any, channel: str) -> None:
        redis = get_async_redis()
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "hub": channel})
        dead_ms = int(settings.RT_PROCESS_DEAD_SECONDS * 1000)
        sent = time.monotonic()
        async with redis.pipeline(transaction=False) as pipe:
            pipe.set(alive_key(PROCESS_ID), info, px=dead_ms, get=True)
            pipe.sadd(registry_key(), PROCESS_ID)
            pipe.set(state_key(PROCESS_ID, "hub"), channel, ex=state_ttl())
            previous, _added, _hub = await pipe.execute()
        metrics.REDIS_LATENCY.observe(time.monotonic() - sent)
        metrics.sample_process()
        self.beats += 1
        # Cut off from Redis (a failed beat, or our own key lapsed: Redis paused or
        # restarted, or this process frozen), the others' keys may have lapsed for the
        # same reason: they get a heartbeat to renew them before anyone is swept.
        cut_off = self.failing or (previous is None and self.beats > 1)
        if previous is None and self.beats > 1 and (self.rejoin is None or self.rejoin.done()):
            # In a task of its own: joining thousands of groups again must not hold up
            # the next heartbeat (it would lapse again).
            self.rejoin = spawn(self._came_back(hub), name="rtsite-came-back")
        elif self.beats % 30 == 1:  # the records expire unless renewed
            record = get_record()
            await record.write_state(set(record.groups), set(record.rooms))
        else:
            await get_record().write_unrecorded()
        await channel_layer().send(channel, {"type": PING_TYPE, "at": time.time()})
        if not cut_off:
            await self._sweep()
        if time.monotonic() - self.last_db_probe >= settings.RT_DB_PROBE_SECONDS:
            self.last_db_probe = time.monotonic()
            await _probe_database()

    async def _came_back(self, hub: Any) -> None:
        logger.warning(
            "process %s was taken for dead (no heartbeat for %s s): joining its groups again "
            "and resyncing its sockets",
            PROCESS_ID,
            settings.RT_PROCESS_DEAD_SECONDS,
        )
        # Let a janitor that is cleaning up after us finish first.
        lock = state_key(PROCESS_ID, "cleanup")
        redis = get_async_redis()
        for _ in range(50):
            if not await redis.exists(lock):
                break
            await asyncio.sleep(0.1)
        record = get_record()
        await record.write_state(set(record.groups), set(record.rooms))
        await presence.renew_all()
        await hub.rejoin()

    async def _sweep(self) -> None:
        """Clean up after every registered process whose alive key has lapsed: each in a
        task of its own, so the heartbeat never waits on one (a process that held 10,000
        sockets leaves tens of thousands of group memberships; a heartbeat that waited
        for them would lapse itself)."""
        redis = get_async_redis()
        members = cast(
            "set[str]", await redis.smembers(registry_key())
        )  # decoded (common/redis.py)
        others = [p for p in members if p != PROCESS_ID]
        for process_id, live in (await alive(others)).items():
            running = self.cleanups.get(process_id)
            if not live and (running is None or running.done()):
                self.cleanups[process_id] = spawn(
                    cleanup(process_id), name=f"rtsite-cleanup-{process_id}"
                )

    async def unregister(self) -> None:
        """A graceful exit (after the drain): nothing left for a janitor to undo."""
        if self.task is not None:
            self.task.cancel()
        keys = [
            alive_key(PROCESS_ID),
            *(state_key(PROCESS_ID, p) for p in ("hub", "groups", "rooms")),
        ]
        redis = get_async_redis()
        await redis.delete(*keys)
        await redis.srem(registry_key(), PROCESS_ID)


async def cleanup(process_id: str) -> bool:
    """Forget a dead process (once, whichever live process gets there first)."""
    redis = get_async_redis()
    lock = state_key(process_id, "cleanup")
    if not await redis.set(lock, PROCESS_ID, nx=True, px=60_000):
        return False
    try:
        # Still dead now that the lock is ours? A process that came back renews its key
        # and then waits for this lock before joining its groups again: if it renewed
        # before we took the lock, it may have joined them already, and must keep them.
        if await redis.exists(alive_key(process_id)):
            return False
        # Decoded replies (common/redis.py).
        hub = cast("str | None", await redis.get(state_key(process_id, "hub")))
        groups = cast("set[str]", await redis.smembers(state_key(process_id, "groups")))
        rooms = cast("set[str]", await redis.smembers(state_key(process_id, "rooms")))
        layer = channel_layer()
        if hub:
            ordered = sorted(groups)
            for start in range(0, len(ordered), DISCARD_BATCH):
                # A failed discard expires with the layer's group expiry.
                await asyncio.gather(
                    *(layer.group_discard(g, hub) for g in ordered[start : start + DISCARD_BATCH]),
                    return_exceptions=True,
                )
        sockets = 0
        for room in rooms:
            sockets += await presence.purge_process(room_id=room, process_id=process_id)
        await redis.delete(*(state_key(process_id, part) for part in ("hub", "groups", "rooms")))
        await redis.srem(registry_key(), process_id)
        metrics.DEAD_PROCESSES.inc()
        logger.warning(
            "process %s is dead: its hub left %d group(s), %d socket(s) left %d presence room(s)",
            process_id,
            len(groups),
            sockets,
            len(rooms),
        )
        return True
    finally:
        await redis.delete(lock)


@database_sync_to_async
def _database_round_trip() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _probe_database() -> None:
    """How long a query takes here, waiting for the database thread included."""
    started = time.monotonic()
    try:
        await _database_round_trip()
    except Exception:
        logger.warning("database probe failed", exc_info=True)
        return
    metrics.DB_LATENCY.observe(time.monotonic() - started)


_processes = PerLoop(Process)


def start_with_server() -> bool:
    """Under daphne: register as soon as the server runs, not at the first request (a
    worker just restarted counts as up, and can be waited for, before any traffic)."""
    reactor = installed_reactor()
    if reactor is None:
        return False
    # callLater: on the loop, once it runs (get_process needs the running loop).
    reactor.callWhenRunning(lambda: reactor.callLater(0, lambda: get_process().start()))
    return True


def get_process() -> Process:
    return _processes.get()
