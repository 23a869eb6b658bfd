"""Background tasks (``common.tasks.spawn``): held until done, failures logged."""

from __future__ import annotations

import asyncio
import gc

import pytest

from common import tasks


async def test_a_task_nobody_holds_still_runs_to_its_end() -> None:
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.01)
        gc.collect()
        done.set()

    tasks.spawn(work(), name="test-unheld")
    gc.collect()
    assert tasks.running("test-unheld")
    await asyncio.wait_for(done.wait(), timeout=5)
    await asyncio.sleep(0)
    assert not tasks.running("test-unheld")


async def test_a_failure_is_logged_with_the_tasks_name(caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        raise RuntimeError("boom")

    task = tasks.spawn(fail(), name="test-failing")
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert "background task test-failing failed" in caplog.text
    assert "boom" in caplog.text


async def test_a_cancellation_is_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    task = tasks.spawn(asyncio.sleep(10), name="test-cancelled")
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert "test-cancelled" not in caplog.text
