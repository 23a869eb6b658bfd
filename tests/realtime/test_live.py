"""The live-resource base's pure parts: reading history by cursor, sharing one read."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime import live
from realtime.live import SharedReads, read_history


def test_read_history_resumes_or_starts_over() -> None:
    def after(cursor: int, limit: int) -> tuple[list[int], bool]:
        items = list(range(cursor + 1, 11))
        return items[:limit], len(items) > limit

    def latest(limit: int) -> tuple[list[int], bool]:
        return list(range(11 - limit, 11)), True

    assert read_history(
        after=7, read_after=after, read_latest=latest, resume_limit=5, page_size=2
    ) == live.History("resume", [8, 9, 10], None)
    assert read_history(
        after=1, read_after=after, read_latest=latest, resume_limit=5, page_size=2
    ) == live.History("reset", [9, 10], True)
    assert read_history(
        after=None, read_after=after, read_latest=latest, resume_limit=5, page_size=2
    ) == live.History("recent", [9, 10], True)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(live.time, "monotonic", lambda: self.now)


async def test_sockets_asking_together_share_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    shared = SharedReads(share_for=5.0)
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0)
        return reads

    together = await asyncio.gather(*(shared.get("room", read=read, epoch=1) for _ in range(3)))
    assert together == [1, 1, 1]
    # Something reached the group since (a new epoch): that read may miss it.
    assert await shared.get("room", read=read, epoch=2) == 2
    clock.now += 6  # too old to share
    assert await shared.get("room", read=read, epoch=2) == 3


async def test_expired_reads_are_let_go_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reconnect churn asks a new key at every connect (each socket's own cursor): the
    results kept are only those still young enough to share, however many keys came."""
    clock = Clock(monkeypatch)
    shared = SharedReads(share_for=5.0)

    async def read() -> bytes:
        return bytes(1000)

    for cursor in range(100):
        await shared.get(("room", cursor), read=read, epoch=1)
        clock.now += 1
    assert sorted(key[1] for key in shared.reads.get()) == [94, 95, 96, 97, 98, 99]
    # A key asked again moves to the back, with the newest.
    await shared.get(("room", 96), read=read, epoch=2)
    clock.now += 2
    await shared.get(("room", 0), read=read, epoch=1)
    assert [key[1] for key in shared.reads.get()] == [97, 98, 99, 96, 0]


class InOrder(live.LiveConsumer):
    counts_every_change = True


@given(order=st.permutations(range(1, 13)), cut=st.integers(0, 12))
def test_an_in_order_cursor_stops_below_the_first_change_not_sent(
    order: list[int], cut: int
) -> None:
    """Changes sent in any order, some still on their way: the cursor is the highest
    change below which every one was sent, the one a resync must start from."""
    sent = order[:cut]
    consumer = InOrder()
    for seq in sent:
        consumer.advance(seq)
    missing = [seq for seq in range(1, 13) if seq not in sent]
    assert consumer.cursor == (min(missing) - 1 if missing else 12)
    for seq in order[cut:]:
        consumer.advance(seq)
    assert consumer.cursor == 12
    assert consumer.ahead is None


def test_a_change_of_several_steps_and_a_sync_move_an_in_order_cursor() -> None:
    consumer = InOrder()
    consumer.cover(10)
    consumer.advance(15, steps=3)  # a deletion of three messages: 13, 14, 15
    assert consumer.cursor == 10
    consumer.advance(12, steps=2)
    assert consumer.cursor == 15
    consumer.advance(18)
    consumer.cover(16)  # a sync up to 16; 17 is still missing
    assert (consumer.cursor, consumer.ahead) == (16, {18})


def test_a_cursor_of_ids_is_the_newest_sent() -> None:
    consumer = live.LiveConsumer()
    consumer.advance(7)
    consumer.advance(3)
    assert consumer.cursor == 7
