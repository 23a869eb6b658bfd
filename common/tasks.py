"""Background tasks that are kept and whose failures are logged.

asyncio keeps only a weak reference to a task: one nobody holds may be collected before
it finishes, and an exception in one nobody awaits is reported, if at all, when it is
collected (asyncio's documentation for ``create_task`` says to keep a reference). Every
background task of the site starts here instead: it is held until it finishes, and an
exception other than its cancellation is logged with the task's name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()


def spawn(coroutine: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Run ``coroutine`` in a task of its own on the running loop, held until done."""
    task = asyncio.get_running_loop().create_task(coroutine, name=name)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=error)


def running(prefix: str = "") -> list[asyncio.Task[Any]]:
    """The background tasks still running (whose name starts with ``prefix``)."""
    return [task for task in _running if task.get_name().startswith(prefix)]
