"""This process's part in running arenas: claimers and one ticker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from typing import Any, cast

from channels.db import database_sync_to_async
from django.conf import settings

from common.batching import Batcher
from common.loops import PerLoop
from common.redis import get_async_redis
from common.tasks import spawn
from game import protocol, selectors
from game.arena.owner import PRESENCE_EVERY_SECONDS, ArenaOwner
from game.arena.store import (
    APPLIED_KEEP_SECONDS,
    KEEP_SECONDS,
    PROCESS,
    RELEASE_SCRIPT,
    TAKE_SEAT_SCRIPT,
    TICK_SCRIPT,
    input_group,
    key,
    lease_channel,
    lease_value,
    seat_key,
    ticker_key,
)
from game.arena.world import tick_seconds
from realtime import metrics
from realtime.broadcast import BATCH_TYPE, publish_batch
from realtime.hub import get_hub
from realtime.layers import channel_layer
from realtime.server import drain

logger = logging.getLogger(__name__)


class ArenaHost:
    """This process's part: a claimer for each arena one of its sockets is on (it takes
    the lease when the arena has no owner), and one ticker that steps every arena this
    process owns at once: one Redis call a tick for all of them (renew, log, snapshot),
    and one layer message a tick for all their broadcasts (``publish``)."""

    def __init__(self) -> None:
        self.watching: Counter[int] = Counter()
        self.claimers: dict[int, asyncio.Task[None]] = {}
        self.owners: dict[int, ArenaOwner] = {}
        self.leases: dict[int, tuple[str | None, float]] = {}  # read when, per arena
        # Inputs for other processes, per owner process's hub channel.
        self.outgoing: Batcher[str, list[dict[str, Any]]] = Batcher(
            self._send_all, new=list, name="arena-inputs"
        )
        self.ticker: asyncio.Task[None] | None = None
        self.intervals: list[float] = []  # between tick starts, since the last report
        self.lag_max = 0.0  # the worst lateness of a tick in the last second
        self.reported = 0.0
        self.handed_over = False  # draining: this process claims no arena any more
        self.seating: set[asyncio.Task[None]] = set()  # seats being taken (_take_seat)
        drain.on_drain(self.hand_over)

    async def hand_over(self) -> None:
        """This process is draining: stop every arena it runs and release their leases
        at once. Each tick was logged before it was sent, so the process that claims an
        arena next (one its players reconnect to) goes on from the last tick anyone saw,
        within ARENA_CLAIM_SECONDS instead of when the lease would have lapsed."""
        self.handed_over = True
        owners = [owner for owner in self.owners.values() if not owner.stopped.is_set()]
        for owner in owners:
            await owner.stop(release=True)
        if owners:
            logger.warning("draining: handed over %d arena(s)", len(owners))

    def seat_taken(self, player: int, arena_id: int) -> None:
        """A player joined this arena: they leave the one they sat in before (off the
        tick, in a task of its own)."""
        task = spawn(self._take_seat(player, arena_id), name="arena-seat")
        self.seating.add(task)
        task.add_done_callback(self.seating.discard)

    async def _take_seat(self, player: int, arena_id: int) -> None:
        try:
            before = await get_async_redis().eval(
                TAKE_SEAT_SCRIPT, 1, seat_key(player), arena_id, KEEP_SECONDS
            )
            if before is not None and int(before) != arena_id:
                await self.send(int(before), {"kind": "leave", "player": player})
        except Exception:  # the player keeps both seats until away from one
            logger.warning("arena seat of player %s not taken", player, exc_info=True)

    def watch(self, arena_id: int) -> None:
        self.watching[arena_id] += 1
        claimer = self.claimers.get(arena_id)
        if claimer is None or claimer.done():
            self.claimers[arena_id] = spawn(
                self._claim_loop(arena_id), name=f"arena-{arena_id}-claimer"
            )

    def unwatch(self, arena_id: int) -> None:
        self.watching[arena_id] -= 1
        if self.watching[arena_id] <= 0:
            del self.watching[arena_id]

    async def _claim_loop(self, arena_id: int) -> None:
        while self.watching[arena_id] > 0 or arena_id in self.owners:
            owner = self.owners.get(arena_id)
            if owner is not None and owner.stopped.is_set():
                self.owners.pop(arena_id, None)
                continue
            if owner is None:
                try:
                    await self._try_claim(arena_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.warning("claiming arena %s failed", arena_id, exc_info=True)
            await asyncio.sleep(settings.ARENA_CLAIM_SECONDS)
        self.claimers.pop(arena_id, None)

    async def _try_claim(self, arena_id: int) -> None:
        if self.handed_over:
            return
        redis = get_async_redis()
        lease = lease_value(await get_hub().address())
        lease_ms = int(settings.ARENA_LEASE_SECONDS * 1000)
        if not await redis.set(key(arena_id, "owner"), lease, nx=True, px=lease_ms):
            return
        arena = await database_sync_to_async(selectors.arena_get)(arena_id=arena_id)
        if arena is None or arena.status != arena.State.OPEN:
            await redis.eval(RELEASE_SCRIPT, 1, key(arena_id, "owner"), lease)
            self.watching.pop(arena_id, None)
            return
        owner = ArenaOwner(
            host=self,
            arena_id=arena_id,
            name=arena.name,
            url=arena.get_absolute_url(),
            private=arena.private,
            lease=lease,
        )
        self.owners[arena_id] = owner
        logger.info("arena %s: this process (%s) runs it now", arena_id, PROCESS)
        try:
            await owner.take_over()
        except BaseException:
            self.owners.pop(arena_id, None)
            await owner.stop()
            raise
        if self.ticker is None or self.ticker.done():
            self.ticker = spawn(self._tick_loop(), name="arena-ticker")

    async def _tick_loop(self) -> None:
        """Each arena ticks every ``tick_seconds``; the arenas are spread over
        ``ARENA_TICK_SLOTS`` slots of the tick (by id), so a pass delivers a slot's
        frames, not every arena's at once: a player sees their turn that much sooner."""
        loop = asyncio.get_running_loop()
        slots = settings.ARENA_TICK_SLOTS
        interval = tick_seconds() / slots
        due = loop.time()
        last_run: dict[int, float] = {}
        slot = 0
        script = get_async_redis().register_script(TICK_SCRIPT)
        while self.owners:
            due += interval
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            if slot in last_run:
                self.intervals.append(now - last_run[slot])  # a tick of this slot's arenas
            last_run[slot] = now
            lag = now - due
            if lag > 5 * tick_seconds():  # far behind (a stall): skip ahead, do not burst
                due = now
            self.lag_max = max(self.lag_max, lag)
            metrics.ARENA_TICK_LAG.observe(max(0.0, lag))
            try:
                await self.tick(script, slot=slot, slots=slots)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the arena ticker failed a tick")
            slot = (slot + 1) % slots
            await self._report()

    async def tick(self, script: Any, *, slot: int = 0, slots: int = 1) -> None:
        now = time.time()
        stepped: list[ArenaOwner] = []
        keys: list[str] = []
        args: list[Any] = [
            int(settings.ARENA_LEASE_SECONDS * 1000),
            KEEP_SECONDS,
            int(now * 1000),
            APPLIED_KEEP_SECONDS * 1000,
        ]
        for owner in list(self.owners.values()):
            if owner.stopped.is_set() or owner.arena_id % slots != slot:
                continue
            try:
                entry, snapshot, applied = owner.step(now)
            except Exception:
                logger.exception("arena %s failed a tick; giving it up", owner.arena_id)
                await owner.stop()
                continue
            stepped.append(owner)
            parts = ("owner", "log", "snapshot", "applied")
            keys += [key(owner.arena_id, part) for part in parts]
            args += [owner.lease, entry, snapshot, applied]
        if not stepped:
            return
        try:
            held = await script(keys=keys, args=args)
        except Exception:
            # Redis away: these ticks are not logged and the leases not renewed. Stop; the
            # claimers take the arenas again once Redis answers.
            logger.warning("arena ticks could not be committed; stopping", exc_info=True)
            for owner in stepped:
                await owner.stop(release=False)
            return
        events = []
        for owner, ours in zip(stepped, held, strict=True):
            if ours:
                events += owner.take_outbox()
            else:
                logger.warning("arena %s: the lease went to another process", owner.arena_id)
                await owner.stop(release=False)
        if events:
            await self.publish(events)

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """This process's sockets get the events at once; the other processes' hubs get
        them all in one layer message (``realtime.broadcast.publish_batch``)."""
        hub = get_hub()
        for event in events:
            await hub.deliver_here(event)
        await publish_batch(protocol.ARENA_BATCH_GROUP, events, origin=await hub.address())

    async def _report(self) -> None:
        now = time.time()
        if now - self.reported < PRESENCE_EVERY_SECONDS:
            return
        self.reported = now
        report = {"intervals_ms": [round(i * 1000, 2) for i in self.intervals[-200:]], "at": now}
        self.intervals = []
        with contextlib.suppress(Exception):
            await get_async_redis().hset(ticker_key(), PROCESS, json.dumps(report))
        self.lag_max = 0.0

    async def send(self, arena_id: int, event: dict[str, Any]) -> bool:
        """A player's input to the arena's owner, wherever it runs. False if no process
        runs the arena (nothing was sent)."""
        owner = self.owners.get(arena_id)
        if owner is not None and not owner.stopped.is_set():
            owner.on_input(event)
            return True
        lease, read_at = self.leases.get(arena_id, (None, 0.0))
        now = time.monotonic()
        if lease is None or now - read_at > settings.ARENA_CLAIM_SECONDS:
            lease = cast("str | None", await get_async_redis().get(key(arena_id, "owner")))
            self.leases[arena_id] = (lease, now)
        if not lease:
            return False
        event = {"type": protocol.EVENT_ARENA_INPUT, "group": input_group(arena_id), **event}
        self._send_soon(lease_channel(lease), event)
        return True

    def _send_soon(self, channel: str, event: dict[str, Any]) -> None:
        """Inputs for another process go out at the end of this turn of the loop, or,
        while a send to it is on its way, together with the others after it: one layer
        message (one receive for that process's hub) per batch instead of per turn."""
        self.outgoing.pending(channel).append(event)

    async def _send_all(self, channel: str, events: list[dict[str, Any]]) -> None:
        batch = {"type": BATCH_TYPE, "group": "", "events": events, "at": time.time()}
        try:
            await channel_layer().send(channel, batch)
        except Exception:
            # The owner's process is gone (or Redis is): turns are worth nothing late.
            logger.warning("arena inputs to %s were lost", channel, exc_info=True)


_hosts = PerLoop(ArenaHost)


def get_host() -> ArenaHost:
    return _hosts.get()
