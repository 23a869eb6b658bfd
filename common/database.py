"""The hot writes' way to the database from async code.

channels' ``database_sync_to_async`` runs every call on the process's one
thread-sensitive thread: on SQLite that is right (one writer at a time anyway). On
PostgreSQL, RT_DB_THREADS above 1 runs the writes that every post and every move make on
a pool of that many threads instead, each with its own connection, so one write's round
trips to the server overlap another's Python. Each write is its own transaction, locking
the row it orders by (a room, a game), so writes to one room or game still take turns.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import connection

T = TypeVar("T")


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rtsite-db")


def write_to_async(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``database_sync_to_async(function)``, on the pool where there is one."""
    threads = settings.RT_DB_THREADS
    if threads <= 1 or connection.vendor != "postgresql":
        return database_sync_to_async(function)
    runner: Any = DatabaseSyncToAsync(function, thread_sensitive=False, executor=_pool(threads))
    return runner
