from __future__ import annotations

import pytest

from realtime import ratelimit
from realtime.ratelimit import TokenBucket


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
