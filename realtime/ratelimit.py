"""Rate limits: per socket (in memory) and per account (in Redis, across processes)."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from common.logs import Outage
from common.redis import get_async_redis, get_redis

logger = logging.getLogger(__name__)


class TokenBucket:
    """Allows ``burst`` actions at once, refilled at ``rate`` per second."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait(self) -> float:
        """Seconds until ``take`` would allow one action (0 if it would now)."""
        return max(0.0, (1 - self.tokens) / self.rate - (time.monotonic() - self.updated))


# A token bucket in Redis (GCRA: one key holding the "theoretical arrival time"), shared
# by every process, on Redis's own clock so hosts need not agree on theirs. ARGV: the
# seconds per unit, the burst (in units), what this action costs (in units). Returns 0
# if the action may go ahead (and takes its cost); a refused one takes nothing and
# returns the milliseconds until it would be allowed (at least 1).
_ACCOUNT_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local after = tat + interval * cost
local over = after - now - burst * interval
if over > 0 then return math.max(1, math.ceil(over * 1000)) end
redis.call('SET', KEYS[1], tostring(after), 'PX', math.ceil((after - now) * 1000) + 1000)
return 0
"""


# Redis away: every limited action goes ahead; said once per outage, not once per post.
_outage = Outage(logger, "per-account rate limits unavailable, allowing")


async def account_wait(
    *, action: str, key: int | str, rate: float, burst: int, cost: float = 1.0
) -> float:
    """One ``action`` by ``key`` (a user id, an address), across every socket and process:
    ``burst`` units at once, refilled at ``rate`` units per second, the action taking
    ``cost`` units. Returns 0 if it may go ahead (and takes it), else the seconds until it
    would be allowed, for the refusal to say. If Redis cannot answer, the action goes
    ahead (the per-socket limit still holds): an outage must not stop the site."""
    name = f"{settings.REDIS_KEY_PREFIX}:rate:{action}:{key}"
    try:
        wait_ms = int(await get_async_redis().eval(_ACCOUNT_TAKE, 1, name, 1.0 / rate, burst, cost))
    except Exception as error:
        _outage.failed(error)
        return 0.0
    _outage.answered()
    return wait_ms / 1000


async def account_take(
    *, action: str, key: int | str, rate: float, burst: int, cost: float = 1.0
) -> bool:
    """``account_wait`` for a caller that only needs to know whether it may go ahead."""
    return await account_wait(action=action, key=key, rate=rate, burst=burst, cost=cost) == 0


def account_wait_sync(
    *, action: str, key: int | str, rate: float, burst: int, cost: float = 1.0
) -> float:
    """``account_wait`` for a view (synchronous code): the same budget, the same Lua."""
    name = f"{settings.REDIS_KEY_PREFIX}:rate:{action}:{key}"
    try:
        wait_ms = int(get_redis().eval(_ACCOUNT_TAKE, 1, name, 1.0 / rate, burst, cost))
    except Exception as error:
        _outage.failed(error)
        return 0.0
    _outage.answered()
    return wait_ms / 1000
