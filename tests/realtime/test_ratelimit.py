from __future__ import annotations

import uuid

import pytest

from realtime import ratelimit
from realtime.ratelimit import TokenBucket, account_wait


def test_bucket_allows_burst_then_refills(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back at 2/s
    assert bucket.take() is True
    assert bucket.take() is False
    now[0] += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_bucket_says_how_long_until_the_next_action(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    bucket = TokenBucket(rate=0.5, burst=1)
    assert bucket.wait() == 0
    assert bucket.take() is True
    assert bucket.take() is False
    assert bucket.wait() == pytest.approx(2.0)
    now[0] += 1.5
    assert bucket.wait() == pytest.approx(0.5)


async def test_account_wait_refuses_with_the_time_to_wait() -> None:
    """On the real Redis: the burst goes ahead, the next is refused with how long until it
    would be allowed (one unit at 0.5/s: about 2 s), and a refusal takes nothing."""
    key = uuid.uuid4().hex
    limits = {"action": "test", "key": key, "rate": 0.5, "burst": 2}
    assert [await account_wait(**limits) for _ in range(2)] == [0, 0]
    refused = await account_wait(**limits)
    assert 1.5 < refused <= 2.0
    again = await account_wait(**limits)
    assert 1.5 < again <= refused
