"""One object per running event loop.

asyncio objects (connections, tasks, locks) belong to the loop that made them. daphne
runs one loop, but tests run one per test, so process-wide singletons (the hub, Redis
clients, presence helpers) are kept per loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self.factory = factory
        self.instances: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        instance = self.instances.get(loop)
        if instance is None:
            instance = self.instances[loop] = self.factory()
        return instance

    def replace(self) -> T:
        """A fresh instance for the running loop (the old one is dropped)."""
        loop = asyncio.get_running_loop()
        instance = self.instances[loop] = self.factory()
        return instance
