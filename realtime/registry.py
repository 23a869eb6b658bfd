"""The process registry in Redis: each process's id and keys, who is alive, and this
process's record of the layer groups its hub is in and the presence rooms its sockets
are in (what a janitor undoes if the process dies).

The heartbeat that keeps a process's keys alive, and the janitor, are ``realtime.processes``;
the hub and presence write to the record here, and never import the heartbeat.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from common.batching import Batcher
from common.loops import PerLoop
from common.redis import get_async_redis

# This OS process. Socket ids end with it, so a dead process's sockets can be found.
PROCESS_ID = uuid.uuid4().hex[:12]


def _key(*parts: str) -> str:
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))


def registry_key() -> str:
    return _key("processes")


def alive_key(process_id: str) -> str:
    return _key("process", process_id)


def state_key(process_id: str, part: str) -> str:
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


def state_ttl() -> int:
    # The records of a process outlive it long enough for a janitor to read them.
    return max(3600, int(settings.RT_PRESENCE_TTL_SECONDS * 2))


@dataclass
class Changes:
    """Changes to a process's record not written yet."""

    groups: set[str] = field(default_factory=set)  # joined
    rooms: set[str] = field(default_factory=set)  # entered
    left: set[str] = field(default_factory=set)  # groups left, still in Redis's record


class Record:
    """What this process holds (groups, rooms), written to Redis in batches: a connect
    storm joins thousands of groups, and one SADD carries them."""

    def __init__(self) -> None:
        self.groups: set[str] = set()  # layer groups the hub is in (as recorded)
        self.rooms: set[str] = set()  # presence rooms this process's sockets are in
        # A failed write's changes: the next heartbeat writes them.
        self.unrecorded = Changes()
        self.batches: Batcher[None, Changes] = Batcher(
            self._write_batch, new=Changes, name="rtsite-process-record"
        )

    def group_joined(self, group: str) -> None:
        self.groups.add(group)
        self.batches.pending(None).groups.add(group)

    def group_left(self, group: str) -> None:
        # Taken out of Redis's record in the next batch (too late does no harm: a
        # discard of a group the hub is not in changes nothing). One never written is
        # only forgotten.
        self.groups.discard(group)
        waiting = self.batches.waiting(None)
        if waiting is not None and group in waiting.groups:
            waiting.groups.discard(group)
        elif group in self.unrecorded.groups:
            self.unrecorded.groups.discard(group)
        else:
            self.batches.pending(None).left.add(group)

    def room_entered(self, room: str) -> None:
        if room not in self.rooms:
            self.rooms.add(room)
            self.batches.pending(None).rooms.add(room)

    def room_left(self, room: str) -> None:
        # As for groups: a room left stays in Redis's record until the next full write,
        # and purging it after a death finds none of our sockets.
        self.rooms.discard(room)
        waiting = self.batches.waiting(None)
        if waiting is not None:
            waiting.rooms.discard(room)
        self.unrecorded.rooms.discard(room)

    async def _write_batch(self, _key: None, changes: Changes) -> None:
        # A group joined again since it was left stays recorded.
        left = changes.left - self.groups
        try:
            await self.write_state(changes.groups, changes.rooms, left)
        except Exception:  # recorded again at the next heartbeat
            self.unrecorded.groups |= changes.groups
            self.unrecorded.rooms |= changes.rooms
            self.unrecorded.left |= left

    async def write_unrecorded(self) -> None:
        """Write what a failed batch left (the heartbeat calls this)."""
        changes, self.unrecorded = self.unrecorded, Changes()
        await self._write_batch(None, changes)

    async def write_state(
        self, groups: set[str], rooms: set[str], left: set[str] | None = None
    ) -> None:
        if not groups and not rooms and not left:
            return
        ttl = state_ttl()
        async with get_async_redis().pipeline(transaction=False) as pipe:
            if left:
                pipe.srem(state_key(PROCESS_ID, "groups"), *left)
            if groups:
                pipe.sadd(state_key(PROCESS_ID, "groups"), *groups)
                pipe.expire(state_key(PROCESS_ID, "groups"), ttl)
            if rooms:
                pipe.sadd(state_key(PROCESS_ID, "rooms"), *rooms)
                pipe.expire(state_key(PROCESS_ID, "rooms"), ttl)
            await pipe.execute()


_records = PerLoop(Record)


def get_record() -> Record:
    return _records.get()
