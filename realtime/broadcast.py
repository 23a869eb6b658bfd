"""Group broadcasts: the one place a frame leaves for a channel-layer group.

A frame is JSON-encoded once here, not once per socket; each process's hub
(``realtime.hub``) hands the text to its sockets in the group. ``cursor`` is the id of the
stored object behind the frame, so a socket knows where to resume from.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from django.db import transaction

from common.batching import Batcher
from common.loops import PerLoop
from realtime import layercheck, metrics
from realtime.envelope import BATCH_TYPE, RESYNC_TYPE, event_of, is_stale, make_event
from realtime.hub import get_hub
from realtime.layers import channel_layer
from realtime.protocol import ServerFrame, encode

logger = logging.getLogger(__name__)


async def _group_send(group: str, event: dict[str, Any]) -> None:
    """A frame goes to this process's sockets in ``group`` first, straight from its hub,
    then to every other process's through the layer (this one's hub skips the copy it
    gets back), when nothing can be out of order so: a frame with nothing stored behind
    it (presence, typing: no ``cursor``) always, and a stored thing's frame when its
    cursor directly follows the last one the hub handed the group (``Hub.follows``).

    Any other stored thing's frame goes through the layer only, so the hub hands it over
    in the order it reached the group's channel: delivered at once, it could overtake
    another process's earlier one still on its way, move a socket's cursor past it, and
    a socket resuming from that cursor would never get it (the rolling-restart test under
    load lost messages so before the ``follows`` rule)."""
    hub = get_hub()
    through_layer_only = False
    delivered_here = None
    if hub.channel is not None and hub.local_count(group):
        cursor = event.get("cursor")
        if cursor is None or (isinstance(cursor, int) and hub.follows(group, cursor)):
            event = {**event, "origin": hub.channel}
            await hub.deliver_here(event)
            delivered_here = hub.channel
        elif cursor is not None:
            event = {**event, "via": hub.channel}
            hub.sending(group)
            through_layer_only = True
    try:
        await _send_except(group, event, delivered_here)
    except Exception:
        if through_layer_only:
            hub.arrived(group)  # it will not arrive
        # The layer is failing: nothing more goes at once until it hands one over again
        # (during an outage the sockets would be sent live what their resync sends again).
        hub.forget_order(group)
        # The data is committed: clients that missed this frame recover it on resume.
        metrics.BROADCAST_FAILURES.inc()
        logger.exception("broadcast of %s to %s failed", event["type"], group)


async def _send_except(group: str, event: dict[str, Any], skip: str | None) -> None:
    """The layer's group send, leaving out the hub ``skip`` (which has the event already)
    where the layer can (``realtime.layers``); another layer sends that hub a copy, which
    it drops for its ``origin``."""
    layer = channel_layer()
    send_except = getattr(layer, "group_send_except", None)
    if skip is not None and send_except is not None:
        await send_except(group, event, skip=skip)
    else:
        await layer.group_send(group, event)


class _Publisher:
    """Sends the events committed by this process's database threads, in commit order, on
    the event loop: the database thread (one per process under daphne) goes on to the
    next write instead of waiting for Redis. Events put in one turn of the loop go out
    in one batch, one after another; a batch waits for the one before it."""

    def __init__(self) -> None:
        self.batches: Batcher[None, list[tuple[str, dict[str, Any]]]] = Batcher(
            self._send_batch, new=list, name="rtsite-publisher"
        )
        # Events put and events handed to the layer (or turned into resyncs), counted, and
        # who waits for the count to reach theirs (``published``).
        self.put_count = 0
        self.done_count = 0
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []

    def put(self, group: str, event: dict[str, Any]) -> None:
        self.batches.pending(None).append((group, event))
        self.put_count += 1

    async def published(self) -> None:
        """Return once every event put so far has gone to the layer."""
        if self.done_count >= self.put_count:
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append((self.put_count, waiter))
        await waiter

    def _done(self, count: int) -> None:
        self.done_count += count
        waiting = []
        for target, waiter in self.waiters:
            if target <= self.done_count:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self.waiters = waiting

    async def _send_batch(self, _key: None, batch: list[tuple[str, dict[str, Any]]]) -> None:
        sent = 0
        try:
            for group, event in batch:
                if is_stale(event):
                    await self._send_backlog(batch[sent:])
                    break
                await _group_send(group, event)
                sent += 1
                self._done(1)
        finally:
            self._done(len(batch) - sent)  # sent as resyncs, or lost with an error

    async def _send_backlog(self, backlog: list[tuple[str, dict[str, Any]]]) -> None:
        # Redis was away (or slow) and a backlog built up: the hubs would drop these late
        # events anyway. Send each group one resync instead, then what is fresh.
        stale = dict.fromkeys(g for g, e in backlog if is_stale(e))
        logger.warning(
            "publisher was behind: %d event(s) become %d resync(s)", len(backlog), len(stale)
        )
        for stale_group in stale:
            await _group_send(stale_group, {"type": RESYNC_TYPE, "group": stale_group})
        for fresh_group, fresh_event in backlog:
            if not is_stale(fresh_event):
                await _group_send(fresh_group, fresh_event)


_publishers = PerLoop(_Publisher)


async def published() -> None:
    """Wait until the broadcasts committed so far by this process (on this loop) have gone
    to the channel layer. A consumer waits for this before acknowledging an action, so an
    ack means the change is stored and its broadcast is on its way: a process that dies
    between the two leaves the client without an ack, never with an ack for a broadcast
    that nobody will receive."""
    await _publishers.get().published()


def _send(events: list[dict[str, Any]]) -> None:
    # Inside sync_to_async (a consumer's database call), hand the events to the loop that
    # is waiting for this thread; elsewhere (manage.py, the admin under WSGI) send now.
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is not None and loop.is_running() and not loop.is_closed():

        def enqueue() -> None:
            publisher = _publishers.get()
            for event in events:
                publisher.put(event["group"], event)

        # In a fresh context, not the database thread's: the publisher task started here
        # hands events to this process's sockets, whose handlers may go to the database
        # thread themselves (asgiref refuses that from inside it, "would deadlock").
        loop.call_soon_threadsafe(enqueue, context=contextvars.Context())
        return
    for event in events:
        async_to_sync(_group_send)(event["group"], event)


def publish_on_commit(
    group: str | Iterable[str],
    frame: ServerFrame | Mapping[str, Any],
    *,
    cursor: int | None = None,
    extra: Mapping[str, Any] | None = None,
    event: str | None = None,
) -> None:
    """Send ``frame`` to ``group`` (or to each of several groups: a notification's
    recipients) once the current transaction commits (now if none). The frame is encoded
    once, whatever the number of groups. A rolled-back transaction sends nothing.
    ``extra`` adds fields to the layer event for the consumers (not to the frame).
    ``event``: the layer event, if not the frame's own (``ServerFrame.event``).
    """
    if getattr(SyncToAsync.threadlocal, "main_event_loop", None) is None:
        # A command (or other process without the site's loop): it must publish on the
        # site's channel layer, or its broadcasts reach nobody. Checked before the
        # transaction commits, so a refusal stores nothing.
        layercheck.check_once()
    text = encode(frame)
    event_type = event_of(frame, event)
    groups = [group] if isinstance(group, str) else list(group)
    events = [make_event(name, event_type, text, cursor, extra) for name in groups]
    transaction.on_commit(partial(_send, events))


async def publish_now(
    group: str,
    frame: ServerFrame | Mapping[str, Any],
    *,
    extra: Mapping[str, Any] | None = None,
    event: str | None = None,
) -> None:
    """Send now a frame with no database write behind it (typing, presence, an arena's
    tick), or one whose write has committed and whose order among other broadcasts does
    not matter (a batch of read cursors). ``extra`` and ``event`` as for
    ``publish_on_commit``."""
    await _group_send(group, make_event(group, event_of(frame, event), frame, extra=extra))


async def publish_batch(group: str, events: list[dict[str, Any]], *, origin: str) -> None:
    """Send events made by ``make_event`` (each for its own group) to every hub in
    ``group`` as one layer message, instead of one group send per event: an arena
    process's ticks for all its arenas, ten times a second. The hub at ``origin`` (the
    sender's own, which delivered them locally) skips it."""
    batch: dict[str, Any] = {"type": BATCH_TYPE, "group": group, "events": events, "origin": origin}
    batch["at"] = time.time()
    try:
        await _send_except(group, batch, origin)
    except Exception:
        metrics.BROADCAST_FAILURES.inc()
        logger.exception("broadcast of a batch of %d to %s failed", len(events), group)
