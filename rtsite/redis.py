"""Redis clients for the project's own keys (presence, health), beside the channel layer."""

from __future__ import annotations

import asyncio
import weakref

import redis
import redis.asyncio
from django.conf import settings

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def get_async_redis() -> redis.asyncio.Redis:
    """One client per event loop: connections cannot cross loops (tests run several)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        # A blocking pool: a burst of sockets (a connect storm) waits for a connection
        # instead of failing with "Too many connections" as redis-py's default pool does.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            decode_responses=True,
            max_connections=getattr(settings, "REDIS_MAX_CONNECTIONS", 50),
            timeout=20,
        )
        client = redis.asyncio.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client


def get_redis(*, timeout: float | None = None) -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
