"""Redis clients for the project's own keys (presence, health), beside the channel layer."""

from __future__ import annotations

import redis
import redis.asyncio
from django.conf import settings

from rtsite.loops import PerLoop


def _async_client() -> redis.asyncio.Redis:
    # A blocking pool: a burst of sockets (a connect storm) waits for a connection
    # instead of failing with "Too many connections" as redis-py's default pool does.
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        max_connections=getattr(settings, "REDIS_MAX_CONNECTIONS", 50),
        timeout=20,
    )
    return redis.asyncio.Redis(connection_pool=pool)


_async_clients = PerLoop(_async_client)


def get_async_redis() -> redis.asyncio.Redis:
    """The running loop's client: connections cannot cross loops (tests run several)."""
    return _async_clients.get()


def get_redis(*, timeout: float | None = None) -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
