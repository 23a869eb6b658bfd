"""Redis clients for the project's own keys (presence, health), beside the channel layer.

redis-py types every reply as ``bytes | str`` whatever the client; the text clients here
decode (``decode_responses=True``), so their callers ``cast`` replies to ``str``.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from django.conf import settings
from redis.backoff import ExponentialWithJitterBackoff

from common.loops import PerLoop

# redis-py retries nothing by default: after a Redis restart every pooled connection is
# dead, and each first use would fail. Reconnect and retry (connection errors only: a
# time-out is an answer that did not come, and is reported as one).
RETRIES = 3


def retry_policy(retry_class: type[Any] = redis.asyncio.retry.Retry) -> Any:
    """The retry every Redis pool of the project uses (``redis.retry.Retry`` for sync)."""
    return retry_class(
        ExponentialWithJitterBackoff(base=0.05, cap=1.0),
        RETRIES,
        supported_errors=(redis.exceptions.ConnectionError,),
    )


def _async_client(*, decode_responses: bool = True) -> redis.asyncio.Redis:
    if settings.REDIS_SENTINELS:
        # The master the sentinels name, asked again after a connection fails.
        sentinel = redis.asyncio.sentinel.Sentinel(settings.REDIS_SENTINELS, socket_timeout=2.0)
        return sentinel.master_for(
            settings.REDIS_SENTINEL_MASTER,
            decode_responses=decode_responses,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            retry=retry_policy(),
        )
    # A blocking pool: a burst of sockets (a connect storm) waits for a connection
    # instead of failing with "Too many connections" as redis-py's default pool does.
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.REDIS_URL,
        decode_responses=decode_responses,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        timeout=20,
        retry=retry_policy(),
    )
    return redis.asyncio.Redis(connection_pool=pool)


_async_clients = PerLoop(_async_client)
_async_byte_clients = PerLoop(lambda: _async_client(decode_responses=False))


def get_async_redis() -> redis.asyncio.Redis:
    """The running loop's client: connections cannot cross loops (tests run several)."""
    return _async_clients.get()


def get_async_redis_bytes() -> redis.asyncio.Redis:
    """As ``get_async_redis``, for values that are not text (the cache's pickles)."""
    return _async_byte_clients.get()


def get_redis(*, timeout: float | None = None) -> redis.Redis:
    if settings.REDIS_SENTINELS:
        sentinel = redis.sentinel.Sentinel(settings.REDIS_SENTINELS, socket_timeout=timeout)
        return sentinel.master_for(
            settings.REDIS_SENTINEL_MASTER,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=retry_policy(redis.retry.Retry),
        )
    return redis.Redis.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=retry_policy(redis.retry.Retry),
    )
