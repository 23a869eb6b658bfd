"""Process-local fan-out over the Redis channel layer.

The Channels way puts every socket in the layer's groups: a broadcast to a room of 1,000
sockets carries 1,000 channel names through Redis, is unpacked into 1,000 queues, and is
dispatched 1,000 times (each dispatch also hops to a thread to close old database
connections). Here each daphne process has one layer channel, its hub; the hub is the
only member of a group from that process, and hands each broadcast to the process's
sockets in that group directly. One layer message per process per broadcast; the frame
text, encoded once by ``realtime.broadcast``, is written to each socket as it is.

The layer can lose messages (Redis restarted, a connection dropped). When the hub's
receive fails, it retries with backoff, re-joins its groups once Redis answers (a
restarted Redis has forgotten them), and asks every local subscriber to resync from its
cursor, so nothing is lost silently.

The hub can also fall behind without anything failing: Redis paused, or a burst larger
than the process can fan out. Replaying a backlog frame by frame (thousands of frames to
each socket) takes longer than the backlog took to build. So an event older than
RT_STALE_EVENT_SECONDS is not delivered: its group is marked, and once the stale events
stop coming, each socket of the marked groups resyncs once, getting everything it missed
in one frame from its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any, Protocol

from channels.layers import get_channel_layer
from django.conf import settings

from common.batching import Batcher
from common.loops import PerLoop
from common.tasks import spawn
from realtime import metrics
from realtime.envelope import BATCH_TYPE, PING_TYPE, RESYNC_TYPE, is_stale
from realtime.layers import channel_layer
from realtime.registry import get_record

logger = logging.getLogger(__name__)

HUB_CHANNEL_PREFIX = "rtsite-hub"
# Group memberships renewed at once after an outage (concurrent layer calls).
REJOIN_BATCH = 50


class Subscriber(Protocol):
    """Also ``note_gap()``, where it keeps a cursor (``realtime.live``)."""

    async def hub_deliver(self, event: dict[str, Any]) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.layer = channel_layer()
        self.channel: str | None = None
        self.members: dict[str, set[Subscriber]] = defaultdict(set)
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self.renewer: asyncio.Task[None] | None = None
        # Groups whose events came too late: once the backlog has passed (no stale event
        # for a moment), each affected socket resyncs once.
        self.stale: Batcher[None, set[str]] = Batcher(
            self._resync_stale, new=set, name="rtsite-hub-stale", settle=0.3
        )
        # Per joined group, its ``epoch``: a value of ``clock``, which only grows.
        self.epochs: dict[str, int] = {}
        self.clock = 0
        # Groups whose first member waits for the hub to join them in the layer.
        # Groups to join, each with the future its joiners wait on: the joins asked for
        # in one turn of the loop go to Redis together, in one pipeline.
        self.joins: Batcher[None, dict[str, asyncio.Future[None]]] = Batcher(
            self._add_batch, new=dict, name="rtsite-hub-join"
        )
        self.attached: set[str] = set()  # local-only groups (``attach``): not in the layer
        self.first: dict[str, set[Subscriber]] = defaultdict(set)  # served first (``prefer``)
        # When the receive loop last got anything (the heartbeat's own ping at least once
        # a second): readiness asks that it is recent.
        self.last_received: float | None = None
        # Per group, the cursor of the stored thing last handed to its sockets, and how
        # many of this process's own stored things are on their way to it through the
        # layer (``follows``).
        self.cursors: dict[str, int] = {}
        self.on_the_way: dict[str, int] = defaultdict(int)

    async def join(self, group: str, subscriber: Subscriber) -> None:
        while True:
            members = self.members.get(group)
            if members is not None:
                members.add(subscriber)
                return
            # The first member here: the hub joins the layer group first, with the other
            # joins of this turn of the loop (``joins``). Once joined, look again: the
            # group may have emptied and been left meanwhile.
            batch = self.joins.pending(None)
            adding = batch.get(group)
            if adding is None:
                adding = batch[group] = asyncio.get_running_loop().create_future()
            await asyncio.shield(adding)

    async def _add_batch(self, _key: None, batch: dict[str, asyncio.Future[None]]) -> None:
        try:
            async with self.lock:  # after any leave's discard still on its way
                await self._start()
                await self._group_add_many(list(batch))
        except Exception as error:
            for future in batch.values():
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: each joiner raises its own
            return
        for group, future in batch.items():
            if group not in self.members:
                self.members[group] = set()
                self._bump(group)
                get_record().group_joined(group)
            if not future.done():
                future.set_result(None)

    async def _group_add_many(self, groups: list[str]) -> None:
        add_many = getattr(self.layer, "group_add_many", None)
        if add_many is not None:
            await add_many(groups, self._started_channel())
            return
        for start in range(0, len(groups), REJOIN_BATCH):
            results = await asyncio.gather(
                *(
                    self.layer.group_add(g, self._started_channel())
                    for g in groups[start : start + REJOIN_BATCH]
                ),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def leave(self, group: str, subscriber: Subscriber) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                return
            members.discard(subscriber)
            if not members:
                del self.members[group]
                self.epochs.pop(group, None)
                self.cursors.pop(group, None)
                self.on_the_way.pop(group, None)
                get_record().group_left(group)
                with contextlib.suppress(Exception):  # it expires anyway
                    await self.layer.group_discard(group, self._started_channel())

    async def address(self) -> str:
        """This process's hub channel: where ``layer.send`` reaches a local subscriber
        (``attach``) from any process."""
        async with self.lock:
            await self._start()
        return str(self.channel)

    def attach(self, group: str, subscriber: Subscriber) -> None:
        """Deliver events sent to this hub's channel (not to a layer group) for ``group``
        to ``subscriber``: an arena's owner gets its inputs so. One receive loop per
        process: channels-redis stalls a second concurrent receive of process-local
        channels on the same layer."""
        self.members[group].add(subscriber)
        self.attached.add(group)

    def prefer(self, group: str, subscriber: Subscriber, first: bool) -> None:
        """Hand ``group``'s events to ``subscriber`` before its other members (an arena's
        players before its spectators: they are the ones waiting to see their turn)."""
        if first:
            self.first[group].add(subscriber)
        elif group in self.first:
            self.first[group].discard(subscriber)
            if not self.first[group]:
                del self.first[group]

    def detach(self, group: str, subscriber: Subscriber) -> None:
        self.prefer(group, subscriber, False)
        members = self.members.get(group)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self.members[group]
                self.attached.discard(group)

    def epoch(self, group: str) -> int | None:
        """A number that changes whenever what this process's sockets in ``group`` were
        told may have changed: an event delivered to the group, the group joined, or
        broadcasts possibly lost. None when the hub is not in the group. A read made while
        it stays the same can serve a socket that joined after the read started
        (``realtime.live.SharedReads``): anything committed after the read arrives later."""
        return self.epochs.get(group)

    def _bump(self, group: str) -> None:
        self.clock += 1
        self.epochs[group] = self.clock

    def local_count(self, group: str) -> int:
        return len(self.members.get(group, ()))

    def follows(self, group: str, cursor: int) -> bool:
        """Whether a stored thing at ``cursor`` may go to this process's sockets in
        ``group`` at once: it directly follows the last one they were handed (in a group
        whose stored things count up one by one, such as a room's changes, nothing can
        be missing between them) and none of this process's own is still on its way
        through the layer (which it would overtake). Otherwise it goes through the layer,
        which hands a group's things over in the order they reach it."""
        return self.on_the_way.get(group, 0) == 0 and self.cursors.get(group) == cursor - 1

    def sending(self, group: str) -> None:
        """One of this process's own stored things is on its way to ``group`` through the
        layer (its copy carries ``via``)."""
        self.on_the_way[group] += 1

    def arrived(self, group: str) -> None:
        if self.on_the_way.get(group, 0) > 0:
            self.on_the_way[group] -= 1

    def forget_order(self, group: str) -> None:
        """Nothing goes to ``group`` at once (``follows``) until the layer hands it a stored
        thing again: a send to it failed."""
        self.cursors.pop(group, None)

    def _started_channel(self) -> str:
        # Members and the receiving task exist only once _start has named the channel.
        if self.channel is None:
            raise RuntimeError("the hub has no channel before it starts")
        return self.channel

    async def _start(self) -> None:
        if self.channel is None:
            # channels-redis's layers (untyped) take a prefix; channels' base class does not.
            self.channel = await self.layer.new_channel(prefix=HUB_CHANNEL_PREFIX)  # type: ignore[call-arg]
        if self.task is None or self.task.done():
            self.task = spawn(self._run(), name="rtsite-hub")
            self.renewer = spawn(self._renew(), name="rtsite-hub-renew")

    async def _run(self) -> None:
        backoff = 0.1
        failed = False
        while True:
            try:
                if failed:
                    # Raises until Redis answers again; a restarted Redis has forgotten
                    # our groups, and whatever was broadcast meanwhile is gone.
                    await self._add_all_groups()
                    failed, backoff = False, 0.1
                    await self._resync_all()
                event = await self.layer.receive(self._started_channel())
                self.last_received = time.monotonic()
                if event.get("type") == PING_TYPE:
                    continue  # the heartbeat's: it only had to arrive (readiness)
                sent_at = event.get("at")
                if sent_at is not None:
                    metrics.HUB_EVENTS.inc()
                    metrics.HUB_EVENT_AGE.observe(max(0.0, time.time() - sent_at))
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failed:
                    logger.exception("hub lost the channel layer; retrying")
                    self._note_gaps(set(self.members))
                failed = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            await self.deliver_from_layer(event)

    async def deliver_here(self, event: dict[str, Any]) -> None:
        """Hand an event to this process's sockets in its group, without the layer (what
        this process publishes to them itself, ``realtime.broadcast``; the copy the layer
        brings back carries ``origin`` and is skipped)."""
        await self._deliver(event)

    async def deliver_from_layer(self, event: dict[str, Any]) -> None:
        if event.get("origin") == self.channel:
            return  # delivered here already, by this process as it sent it
        if event.get("via") == self.channel:
            self.arrived(event.get("group", ""))
        await self._deliver(event)

    async def _deliver(self, event: dict[str, Any]) -> None:
        if event.get("type") == RESYNC_TYPE:
            # A publisher's backlog became this (``realtime.broadcast``).
            members = self.members.get(event.get("group", ""))
            if members:
                self._bump(event["group"])
                metrics.RESYNCS.labels("publisher was behind").inc(len(members))
                await self._resync_each(list(members))
            return
        if event.get("type") == BATCH_TYPE:
            if is_stale(event):
                self._mark_stale(event["group"])
                return
            for inner in event["events"]:
                await self._deliver(inner)
            return
        members = self.members.get(event.get("group", ""))
        if not members:
            return
        self._bump(event["group"])
        if is_stale(event):
            self._mark_stale(event["group"])
            return
        cursor = event.get("cursor")
        if isinstance(cursor, int):
            self.cursors[event["group"]] = cursor
        first = self.first.get(event["group"], ())
        order = [*first, *(s for s in members if s not in first)] if first else list(members)
        metrics.DELIVERIES.inc(len(order))
        for subscriber in order:
            try:
                await subscriber.hub_deliver(event)
            except Exception:
                logger.exception("delivery of %s failed", event.get("type"))

    def _note_gaps(self, groups: set[str]) -> None:
        """Broadcasts to these groups may be lost from here on: each socket keeps its
        cursor of now for the resync, so later deliveries cannot move it past the gap."""
        for group in groups:
            if group in self.members:
                self._bump(group)
            # What follows what is unknown again until the layer hands the next one over.
            self.cursors.pop(group, None)
            self.on_the_way.pop(group, None)
        for subscriber in {id(s): s for g in groups for s in self.members.get(g, ())}.values():
            note = getattr(subscriber, "note_gap", None)
            if note is not None:
                note()

    def _mark_stale(self, group: str) -> None:
        metrics.STALE_EVENTS.inc()
        if group not in (self.stale.waiting(None) or ()):
            self._note_gaps({group})
        self.stale.pending(None).add(group)

    async def _resync_stale(self, _key: None, groups: set[str]) -> None:
        await self._resync(groups, "hub was behind")

    async def _add_all_groups(self) -> None:
        # Pipelined: a process with 10,000 sockets is in tens of thousands of groups, and
        # one round trip each, in turn, took seconds.
        await self._group_add_many([g for g in self.members if g not in self.attached])

    async def _renew(self) -> None:
        # Group memberships expire after group_expiry; renew them well before.
        config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
        interval = config.get("group_expiry", 86400) / 4
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):  # the receive loop handles outages
                await self._add_all_groups()

    async def rejoin(self) -> None:
        """Join every group again and resync every socket: this process was taken for
        dead (``realtime.processes``) and cleaned up after."""
        self._note_gaps(set(self.members))
        async with self.lock:
            await self._add_all_groups()
        await self._resync(set(self.members), "process was taken for dead")

    async def _resync_all(self) -> None:
        await self._resync(set(self.members), "hub reconnected")

    async def _resync(self, groups: set[str], why: str) -> None:
        # Once per socket, though a socket is in several groups (room, user, session).
        subscribers = {id(s): s for group in groups for s in list(self.members.get(group, ()))}
        logger.warning(
            "%s; resyncing %d socket(s) in %d group(s)", why, len(subscribers), len(groups)
        )
        metrics.RESYNCS.labels(why).inc(len(subscribers))
        await self._resync_each(list(subscribers.values()))

    async def _resync_each(self, subscribers: list[Subscriber]) -> None:
        """Tell each subscriber to resync: broadcasts may have been lost. One ``since``
        for all (a read started after it has whatever they missed, so a room's sockets
        share one), and their broadcasts held back from then until each has its sync:
        resyncing one after another, the later ones would otherwise be sent live what
        the shared read predates (a deletion, then the message again)."""
        since = time.monotonic()
        holding = set()
        for subscriber in subscribers:
            hold = getattr(subscriber, "hold", None)
            if hold is not None and hold():
                holding.add(id(subscriber))
        for subscriber in subscribers:
            event = {"type": RESYNC_TYPE, "since": since}
            if id(subscriber) in holding:
                event["releases"] = True
            try:
                await subscriber.hub_deliver(event)
            except Exception:
                logger.exception("resync failed")


_hubs = PerLoop(Hub)


def get_hub() -> Hub:
    """The hub of the running event loop (daphne has one; tests have one per test)."""
    hub = _hubs.get()
    if hub.layer is not get_channel_layer():  # the layer was replaced (tests)
        hub = _hubs.replace()
    return hub
