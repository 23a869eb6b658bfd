"""The small objects the server patches (``realtime.server.patches``) put in place of
daphne's and autobahn's own, each doing only what those use of the original, in less
memory: a socket holds one of each for its whole life."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any


class ApplicationQueue:
    """An application's input queue as daphne uses it: ``put_nowait`` from the protocol,
    ``get`` awaited by the application (one reader: channels' consumer receives one
    message at a time). The deque exists only while messages wait."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[Any] | None = None
        self.waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self.items is None:
            self.items = deque()
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> Any:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        item = self.items.popleft()
        if not self.items:
            self.items = None
        return item


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """What daphne reads of an open connection's request: its path, for the access log."""

    path: str


class SendQueue(list[Any]):
    """autobahn's send queue as it uses it (``append``, ``popleft``, ``len``): 56 bytes
    empty, not a deque's 760."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)
