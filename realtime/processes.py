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
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any, cast

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from common.loops import PerLoop
from common.redis import get_async_redis
from realtime.layers import channel_layer
from realtime.server import metrics

logger = logging.getLogger(__name__)

# This OS process. Socket ids end with it, so a dead process's sockets can be found.
PROCESS_ID = uuid.uuid4().hex[:12]
PING_TYPE = "rt.ping"
# Group memberships a cleanup discards at once (concurrent layer calls).
DISCARD_BATCH = 50


def _key(*parts: str) -> str:
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))


def registry_key() -> str:
    return _key("processes")


def alive_key(process_id: str) -> str:
    return _key("process", process_id)


def _state_key(process_id: str, part: str) -> str:
    return _key("process", process_id, part)


def new_socket_id() -> str:
    """A socket's id: unique, ending with its process's id (``process_of``)."""
    return f"{uuid.uuid4().hex}.{PROCESS_ID}"


def process_of(socket_id: str) -> str:
    return socket_id.rpartition(".")[2]


async def alive(process_ids: Iterable[str]) -> dict[str, bool]:
    """Which of these processes renewed their alive key recently."""
    ids = list(dict.fromkeys(process_ids))
    if not ids:
        return {}
    async with get_async_redis().pipeline(transaction=False) as pipe:
        for process_id in ids:
            pipe.exists(alive_key(process_id))
        found = await pipe.execute()
    return {process_id: bool(count) for process_id, count in zip(ids, found, strict=True)}


async def silent_for(process_ids: Iterable[str]) -> dict[str, float]:
    """Seconds since each live process's last heartbeat (from its alive key's TTL)."""
    ids = list(dict.fromkeys(process_ids))
    if not ids:
        return {}
    async with get_async_redis().pipeline(transaction=False) as pipe:
        for process_id in ids:
            pipe.pttl(alive_key(process_id))
        left = await pipe.execute()
    dead_ms = settings.RT_PROCESS_DEAD_SECONDS * 1000
    return {
        process_id: (dead_ms - ttl) / 1000
        for process_id, ttl in zip(ids, left, strict=True)
        if ttl >= 0
    }


class Process:
    """This process's registration: heartbeat, self-ping, janitor, latency probes."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.beats = 0
        self.groups: set[str] = set()  # layer groups the hub is in (as recorded)
        self.rooms: set[str] = set()  # presence rooms this process's sockets are in
        self.unrecorded_groups: set[str] = set()
        self.unrecorded_rooms: set[str] = set()
        self.recorder: asyncio.Task[None] | None = None
        self.last_db_probe = 0.0
        self.started_at: float | None = None
        self.failing = False  # the last heartbeat failed (Redis away)
        self.cleanups: dict[str, asyncio.Task[bool]] = {}
        self.rejoin: asyncio.Task[None] | None = None
        self.left_groups: set[str] = set()  # still in Redis's record: removed in a batch

    def age(self) -> float:
        """Seconds since this process started its heartbeat."""
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at

    def start(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="rtsite-process")

    def group_joined(self, group: str) -> None:
        self.groups.add(group)
        self.unrecorded_groups.add(group)
        self._record_soon()

    def group_left(self, group: str) -> None:
        # Taken out of Redis's record in the next batch (too late does no harm: a
        # discard of a group the hub is not in changes nothing).
        self.groups.discard(group)
        if group in self.unrecorded_groups:
            self.unrecorded_groups.discard(group)
        else:
            self.left_groups.add(group)
            self._record_soon()

    def room_entered(self, room: str) -> None:
        if room not in self.rooms:
            self.rooms.add(room)
            self.unrecorded_rooms.add(room)
            self._record_soon()

    def room_left(self, room: str) -> None:
        # As for groups: a room left stays in Redis's record until the next full write,
        # and purging it after a death finds none of our sockets.
        self.rooms.discard(room)
        self.unrecorded_rooms.discard(room)

    def _record_soon(self) -> None:
        # Coalesced: a connect storm joins thousands of groups; one SADD carries them.
        if self.recorder is None or self.recorder.done():
            self.recorder = asyncio.create_task(self._record(), name="rtsite-process-record")

    async def _record(self) -> None:
        await asyncio.sleep(0)
        # Until nothing is left: what arrives during a write goes in the next one, not
        # at the next heartbeat (a crash before it would leave that unrecorded).
        while self.unrecorded_groups or self.unrecorded_rooms or self.left_groups:
            groups, self.unrecorded_groups = self.unrecorded_groups, set()
            rooms, self.unrecorded_rooms = self.unrecorded_rooms, set()
            left, self.left_groups = self.left_groups - self.groups, set()
            try:
                await self._write_state(groups, rooms, left)
            except Exception:  # recorded again at the next heartbeat
                self.unrecorded_groups |= groups
                self.unrecorded_rooms |= rooms
                self.left_groups |= left
                return

    async def _write_state(
        self, groups: set[str], rooms: set[str], left: set[str] | None = None
    ) -> None:
        if not groups and not rooms and not left:
            return
        ttl = _state_ttl()
        async with get_async_redis().pipeline(transaction=False) as pipe:
            if left:
                pipe.srem(_state_key(PROCESS_ID, "groups"), *left)
            if groups:
                pipe.sadd(_state_key(PROCESS_ID, "groups"), *groups)
                pipe.expire(_state_key(PROCESS_ID, "groups"), ttl)
            if rooms:
                pipe.sadd(_state_key(PROCESS_ID, "rooms"), *rooms)
                pipe.expire(_state_key(PROCESS_ID, "rooms"), ttl)
            await pipe.execute()

    async def _run(self) -> None:
        from realtime.hub import get_hub

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
            pipe.set(_state_key(PROCESS_ID, "hub"), channel, ex=_state_ttl())
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
            self.rejoin = asyncio.create_task(self._came_back(hub), name="rtsite-came-back")
        elif self.beats % 30 == 1:  # the records expire unless renewed
            await self._write_state(set(self.groups), set(self.rooms))
        else:
            groups, self.unrecorded_groups = self.unrecorded_groups, set()
            rooms, self.unrecorded_rooms = self.unrecorded_rooms, set()
            await self._write_state(groups, rooms)
        await channel_layer().send(channel, {"type": PING_TYPE, "at": time.time()})
        if not cut_off:
            await self._sweep()
        if time.monotonic() - self.last_db_probe >= settings.RT_DB_PROBE_SECONDS:
            self.last_db_probe = time.monotonic()
            await _probe_database()

    async def _came_back(self, hub: Any) -> None:
        from realtime import presence

        logger.warning(
            "process %s was taken for dead (no heartbeat for %s s): joining its groups again "
            "and resyncing its sockets",
            PROCESS_ID,
            settings.RT_PROCESS_DEAD_SECONDS,
        )
        # Let a janitor that is cleaning up after us finish first.
        lock = _state_key(PROCESS_ID, "cleanup")
        redis = get_async_redis()
        for _ in range(50):
            if not await redis.exists(lock):
                break
            await asyncio.sleep(0.1)
        await self._write_state(set(self.groups), set(self.rooms))
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
                self.cleanups[process_id] = asyncio.create_task(
                    cleanup(process_id), name=f"rtsite-cleanup-{process_id}"
                )

    async def unregister(self) -> None:
        """A graceful exit (after the drain): nothing left for a janitor to undo."""
        if self.task is not None:
            self.task.cancel()
        keys = [
            alive_key(PROCESS_ID),
            *(_state_key(PROCESS_ID, p) for p in ("hub", "groups", "rooms")),
        ]
        redis = get_async_redis()
        await redis.delete(*keys)
        await redis.srem(registry_key(), PROCESS_ID)


async def cleanup(process_id: str) -> bool:
    """Forget a dead process (once, whichever live process gets there first)."""
    from realtime import presence

    redis = get_async_redis()
    lock = _state_key(process_id, "cleanup")
    if not await redis.set(lock, PROCESS_ID, nx=True, px=60_000):
        return False
    try:
        # Still dead now that the lock is ours? A process that came back renews its key
        # and then waits for this lock before joining its groups again: if it renewed
        # before we took the lock, it may have joined them already, and must keep them.
        if await redis.exists(alive_key(process_id)):
            return False
        # Decoded replies (common/redis.py).
        hub = cast("str | None", await redis.get(_state_key(process_id, "hub")))
        groups = cast("set[str]", await redis.smembers(_state_key(process_id, "groups")))
        rooms = cast("set[str]", await redis.smembers(_state_key(process_id, "rooms")))
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
        await redis.delete(*(_state_key(process_id, part) for part in ("hub", "groups", "rooms")))
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


def _state_ttl() -> int:
    # The records of a process outlive it long enough for a janitor to read them.
    return max(3600, int(settings.RT_PRESENCE_TTL_SECONDS * 2))


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
    if "twisted.internet.reactor" not in sys.modules:
        return False
    from twisted.internet import reactor

    # callLater: on the loop, once it runs (get_process needs the running loop).
    reactor.callWhenRunning(lambda: reactor.callLater(0, lambda: get_process().start()))
    return True


def get_process() -> Process:
    return _processes.get()
