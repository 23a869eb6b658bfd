"""The live-resource base: a socket that shows stored things as they change.

Chat rooms, the notifications inbox and game pages all work the same way. The socket
joins its hub groups, then sends a ``sync`` of what is stored: everything after the
client's cursor (``?after_id=``, mode ``resume``), or the latest page (``recent``), or,
when too much was missed to replay, the latest page again (``reset``). It keeps a cursor,
the id of the newest stored thing it has sent, advanced by every sync and by every
broadcast that carries one; after a layer outage it syncs again from that cursor.

An app declares what differs, on its consumer:

- ``connect()``: its checks and groups (``join_group``), then ``send_sync``;
- ``sync_frame(after)``: the sync frame from its two readers (``read_history`` with what
  comes after a cursor and the latest page), returning the ids it carries;
- its frame builders (the app's ``protocol.py``) and what it announces (presence changes
  through ``presence_enter`` of the base consumer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from common.loops import PerLoop
from realtime.close_codes import CLOSE_SERVER_ERROR
from realtime.consumers import JsonConsumer
from realtime.protocol import ServerFrame

T = TypeVar("T")


@dataclass(frozen=True)
class History(Generic[T]):
    """What a sync carries: ``mode`` is recent, resume or reset; ``has_more`` says, for a
    latest page, whether older things exist (None for a resume)."""

    mode: str
    items: list[T]
    has_more: bool | None


def read_history(
    *,
    after: int | None,
    read_after: Callable[[int, int], tuple[list[T], bool]],
    read_latest: Callable[[int], tuple[list[T], bool]],
    resume_limit: int,
    page_size: int,
) -> History[T]:
    """Everything after the cursor, unless more than ``resume_limit`` things were missed
    (or there is no cursor): then the latest page. The readers return (things, whether
    there are more than asked for), oldest first."""
    if after is not None:
        items, too_many = read_after(after, resume_limit)
        if not too_many:
            return History("resume", items, None)
    items, has_more = read_latest(page_size)
    # "reset": too far behind to replay; the page starts over from the latest.
    return History("recent" if after is None else "reset", items, has_more)


@dataclass
class _SharedRead:
    started: float
    epoch: int | None
    result: asyncio.Future[Any]


class SharedReads:
    """One read for the sockets that ask the same at about the same moment.

    When a whole room connects or resyncs at once, one query serves them all instead of
    one per socket. A read is shared with a socket only if nothing can fall between the
    read and what reaches the socket live afterwards: given the hub's ``epoch`` of the
    socket's group (a socket that has joined it), while the epoch stays what it was when
    the read started (anything committed later reaches the hub, and the socket, after
    that); otherwise, with the sockets that had joined before the read started."""

    def __init__(self, *, share_for: float = 1.0) -> None:
        self.share_for = share_for
        self.reads: PerLoop[dict[Hashable, _SharedRead]] = PerLoop(dict)

    async def get(
        self,
        key: Hashable,
        *,
        read: Callable[[], Awaitable[T]],
        joined_at: float = 0.0,
        epoch: int | None = None,
    ) -> T:
        reads = self.reads.get()
        now = time.monotonic()
        shared = reads.get(key)
        if shared is not None and now - shared.started <= self.share_for:
            if epoch is not None:
                fresh = shared.epoch == epoch
            else:
                fresh = shared.epoch is None and shared.started >= joined_at
            if fresh:
                return await asyncio.shield(shared.result)
        # Reads are kept in the order they started: the expired ones are at the front.
        # (A reconnect churn asks a new key each time; kept longer, their results add up.)
        while reads:
            oldest = next(iter(reads))
            if now - reads[oldest].started <= self.share_for:
                break
            del reads[oldest]
        reads.pop(key, None)
        shared = _SharedRead(started=now, epoch=epoch, result=asyncio.ensure_future(read()))
        reads[key] = shared
        return await asyncio.shield(shared.result)


# Changes a socket may be sent past a gap below them before it is closed to resume.
MAX_AHEAD = 1000


class LiveConsumer(JsonConsumer):
    """A socket with a cursor over something stored (see the module's doc)."""

    # The newest stored id (notification, game version) sent; where every change steps
    # a counter by one (``counts_every_change``: a chat room's ``seq``), the highest
    # change below which nothing is missing, as the page keeps it (live.js
    # ``seenInOrder``): two processes publish in the order their own commits end, so a
    # socket can be sent seq n+1 before n, and a resync from the highest sent would
    # skip n for good.
    cursor: int = 0
    counts_every_change: ClassVar[bool] = False
    ahead: set[int] | None = None  # changes sent past a gap below them (in-order cursors)
    # The cursor when broadcasts were first missed (``note_gap``), until a resync: what
    # is delivered after a gap must not move the resync's starting point past it.
    gap_cursor: int | None = None
    joined_at: float = 0.0  # when it joined its groups (monotonic), for shared reads
    # When the resync under way was asked for (monotonic): a shared read started before
    # it may lack what the hub dropped, one started after it has everything.
    resync_since: float | None = None
    synced = False  # a refused socket never syncs, so never resyncs

    async def join_groups(self, *groups: str) -> None:
        """Join before reading what is stored: something committed meanwhile arrives
        twice at worst (clients drop repeats by id), never zero times."""
        for group in groups:
            await self.join_group(group)
        self.joined_at = time.monotonic()

    async def sync_frame(self, after: int | None) -> tuple[ServerFrame, int]:
        """The app's sync frame after the cursor, and the cursor it covers up to: the
        newest id (or version) it carries, or the newest change it includes."""
        raise NotImplementedError

    async def send_sync(self, after: int | None) -> None:
        frame, covered = await self.sync_frame(after)
        self.cover(max(after or 0, covered))
        self.synced = True
        await self.send_frame(frame)

    def advance(self, last: int, steps: int = 1) -> None:
        """Sent a stored thing: ``last`` is its id, or the change counter it ends at
        (a change of ``steps`` steps: a deletion of several messages)."""
        if last <= self.cursor:
            return
        if not self.counts_every_change or (
            self.ahead is None and steps == 1 and last == self.cursor + 1
        ):
            self.cursor = last  # the usual case: the next change, nothing missing
            return
        ahead = self.ahead if self.ahead is not None else set()
        ahead.update(range(max(self.cursor + 1, last - steps + 1), last + 1))
        self._settle(ahead)

    def cover(self, upto: int) -> None:
        """Sent a sync that covers every change up to ``upto``."""
        self.cursor = max(self.cursor, upto)
        if self.ahead is not None:
            self._settle({seq for seq in self.ahead if seq > self.cursor})

    def _settle(self, ahead: set[int]) -> None:
        while self.cursor + 1 in ahead:
            self.cursor += 1
            ahead.discard(self.cursor)
        self.ahead = ahead or None

    async def forward_stored(self, event: dict[str, Any]) -> None:
        """Broadcast handler for a frame of something stored: it moves the cursor."""
        self.advance(event["cursor"], event.get("steps", 1))
        await self.send(text_data=event["frame"])
        if self.ahead is not None and len(self.ahead) > MAX_AHEAD:
            # A change this socket was never sent (a broadcast lost after its commit) and
            # many since: closed to be retried, it resumes from its cursor and has them
            # all (the page's own gap check would have reopened it long before).
            await self.close(code=CLOSE_SERVER_ERROR)

    async def forward_declared(self, event: dict[str, Any]) -> None:
        if "cursor" in event:
            await self.forward_stored(event)
        else:
            await self.forward_frame(event)

    def note_gap(self) -> None:
        if self.gap_cursor is None:
            self.gap_cursor = self.cursor

    async def hub_resync(self, since: float) -> None:
        # Broadcasts may have been lost (the layer was away): send what was stored since
        # the first one missed, whatever arrived after it (clients drop repeats by id).
        after = self.cursor if self.gap_cursor is None else min(self.cursor, self.gap_cursor)
        self.gap_cursor = None
        if self.synced:
            self.resync_since = since
            try:
                await self.send_sync(after)
            finally:
                self.resync_since = None
