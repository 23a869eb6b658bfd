"""Collect, then flush later: the one batcher of the site.

Many small writes become one: read cursors written once a second in one transaction,
joins and leaves of a room sent as one frame, a process's group memberships recorded in
one Redis pipeline, a turn's worth of arena inputs sent as one layer message. Each is a
``Batcher``: callers add to the collection ``pending(key)`` returns; the first addition
to a batch starts that key's flusher, which waits, takes the collection and awaits
``flush(key, items)``.

- ``delay``: how long a batch gathers (0: the rest of this turn of the event loop).
  ``pending`` can give a batch its own delay (a busy room waits longer).
- ``settle``: besides, wait until nothing was added for this long (a backlog passing).
- Flushes of one key never overlap: what is added during a flush is the next batch,
  flushed after it. Keys are independent of each other.
- A flush that raises is logged and its items dropped; a flush that must not lose them
  puts them back itself (see ``realtime.registry``).
- The flushers are kept referenced (``common.tasks``).

A batcher belongs to one event loop: make one per loop (``common.loops.PerLoop``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from common.tasks import spawn

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Batcher(Generic[K, T]):
    def __init__(
        self,
        flush: Callable[[K, T], Awaitable[None]],
        *,
        new: Callable[[], T],
        name: str,
        delay: float = 0.0,
        settle: float = 0.0,
    ) -> None:
        self.flush = flush
        self.new = new
        self.name = name
        self.delay = delay
        self.settle = settle
        self._pending: dict[K, T] = {}
        self._delays: dict[K, float] = {}
        self._added_at: dict[K, float] = {}
        self._flushers: dict[K, asyncio.Task[None]] = {}

    def pending(self, key: K, *, delay: float | None = None) -> T:
        """The batch of ``key`` being gathered, to add to (made, and its flush set going,
        on first use)."""
        items = self._pending.get(key)
        if items is None:
            items = self._pending[key] = self.new()
            self._delays[key] = self.delay if delay is None else delay
            if key not in self._flushers:
                self._flushers[key] = spawn(self._run(key), name=f"{self.name}-flush")
        if self.settle:
            self._added_at[key] = time.monotonic()
        return items

    def waiting(self, key: K) -> T | None:
        """The batch of ``key`` being gathered, if there is one (to take back from)."""
        return self._pending.get(key)

    def gathering(self, key: K) -> bool:
        """Whether a batch of ``key`` is being gathered or flushed."""
        return key in self._flushers

    async def idle(self) -> None:
        """Return once every batch so far has been flushed (tests, a drain)."""
        while self._flushers:
            await asyncio.gather(*self._flushers.values(), return_exceptions=True)

    async def _settled(self, key: K) -> None:
        while True:
            quiet = time.monotonic() - self._added_at[key]
            if quiet >= self.settle:
                del self._added_at[key]
                return
            await asyncio.sleep(self.settle - quiet)

    async def _run(self, key: K) -> None:
        try:
            while key in self._pending:
                await asyncio.sleep(self._delays[key])
                if self.settle:
                    await self._settled(key)
                items = self._pending.pop(key)
                del self._delays[key]
                try:
                    await self.flush(key, items)
                except Exception:
                    logger.exception("%s: a batch for %r was lost", self.name, key)
        finally:
            del self._flushers[key]
