"""The batcher (``common.batching``): what is added together is flushed together, one
flush at a time per key, and nothing is lost between batches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from common.batching import Batcher


class Recorder:
    def __init__(self, *, hold: asyncio.Event | None = None, fail: int = 0) -> None:
        self.flushed: list[tuple[Any, list[int]]] = []
        self.running = 0
        self.most_at_once = 0
        self.hold = hold
        self.fail = fail

    async def __call__(self, key: Any, items: list[int]) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.hold is not None:
                await self.hold.wait()
            if self.fail:
                self.fail -= 1
                raise RuntimeError("the flush failed")
            self.flushed.append((key, list(items)))
        finally:
            self.running -= 1


async def test_what_is_added_in_one_turn_is_flushed_once() -> None:
    flush = Recorder()
    batcher: Batcher[str, list[int]] = Batcher(flush, new=list, name="test")
    for item in range(5):
        batcher.pending("a").append(item)
    batcher.pending("b").append(9)
    assert flush.flushed == []  # not before this turn of the loop ends
    await batcher.idle()
    assert sorted(flush.flushed) == [("a", [0, 1, 2, 3, 4]), ("b", [9])]


async def test_a_delay_gathers_what_comes_within_it() -> None:
    flush = Recorder()
    batcher: Batcher[None, list[int]] = Batcher(flush, new=list, name="test", delay=0.05)
    batcher.pending(None).append(1)
    await asyncio.sleep(0.01)
    batcher.pending(None).append(2)
    await batcher.idle()
    assert flush.flushed == [(None, [1, 2])]


async def test_a_batch_may_have_its_own_delay() -> None:
    flush = Recorder()
    batcher: Batcher[str, list[int]] = Batcher(flush, new=list, name="test", delay=10)
    batcher.pending("busy", delay=0.01).append(1)
    await asyncio.wait_for(batcher.idle(), timeout=5)
    assert flush.flushed == [("busy", [1])]


async def test_what_comes_during_a_flush_is_the_next_batch_never_flushed_beside_it() -> None:
    hold = asyncio.Event()
    flush = Recorder(hold=hold)
    batcher: Batcher[str, list[int]] = Batcher(flush, new=list, name="test")
    batcher.pending("a").append(1)
    await asyncio.sleep(0.01)  # the first flush is waiting on hold
    batcher.pending("a").append(2)
    batcher.pending("a").append(3)
    assert batcher.gathering("a")
    hold.set()
    await batcher.idle()
    assert flush.flushed == [("a", [1]), ("a", [2, 3])]
    assert flush.most_at_once == 1
    assert not batcher.gathering("a")


async def test_settle_waits_until_nothing_more_comes() -> None:
    flush = Recorder()
    batcher: Batcher[None, list[int]] = Batcher(flush, new=list, name="test", settle=0.05)
    for item in range(4):
        batcher.pending(None).append(item)
        await asyncio.sleep(0.02)  # each within the settle time of the one before
    await batcher.idle()
    assert flush.flushed == [(None, [0, 1, 2, 3])]


async def test_a_failed_flush_is_logged_and_the_next_batch_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flush = Recorder(fail=1)
    batcher: Batcher[str, list[int]] = Batcher(flush, new=list, name="reads")
    batcher.pending("a").append(1)
    await batcher.idle()
    batcher.pending("a").append(2)
    await batcher.idle()
    assert flush.flushed == [("a", [2])]
    assert "reads: a batch for 'a' was lost" in caplog.text
