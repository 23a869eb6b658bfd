"""Django's Redis cache, with async reads and writes of its own, and following the master
that Redis Sentinel names (REDIS_SENTINELS).

Django's async cache methods run the sync client in a thread: under daphne, the one
thread-sensitive thread that also runs every query, so a socket reading its session or
its user from the cache waited behind the database. These go through the project's async
Redis client instead, with Django's keys and serializer, so a value written by one side
is read by the other.

Django's backend builds its pools from URLs; under Sentinel the pool must ask the
sentinels for the master instead, and again after a failover.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.sentinel import Sentinel, SentinelConnectionPool

from common.redis import get_async_redis_bytes


class RedisCache(DjangoRedisCache):
    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = await get_async_redis_bytes().get(self.make_and_validate_key(key, version=version))
        # Django's own serializer for the cache: a private attribute its stubs leave out.
        serializer = self._cache._serializer  # type: ignore[attr-defined]
        return default if value is None else serializer.loads(value)

    async def aset(
        self,
        key: Any,
        value: Any,
        timeout: Any = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - Django's signature
        version: int | None = None,
    ) -> None:
        name = self.make_and_validate_key(key, version=version)
        seconds = self.get_backend_timeout(timeout)
        client = get_async_redis_bytes()
        if seconds == 0:
            await client.delete(name)
        else:
            serializer = self._cache._serializer  # type: ignore[attr-defined]  # (as above)
            # Django's RedisCache makes it a whole number of seconds (typed as a float).
            await client.set(
                name, serializer.dumps(value), ex=None if seconds is None else int(seconds)
            )

    async def adelete(self, key: Any, version: int | None = None) -> bool:
        name = self.make_and_validate_key(key, version=version)
        return bool(await get_async_redis_bytes().delete(name))


class SentinelCacheClient(RedisCacheClient):
    _pools: dict[Any, Any]  # Django's, set in __init__; its stubs leave it out

    def _get_connection_pool(self, write: bool) -> Any:
        if "sentinel" not in self._pools:
            sentinel = Sentinel(settings.REDIS_SENTINELS, socket_timeout=2.0)
            self._pools["sentinel"] = SentinelConnectionPool(
                settings.REDIS_SENTINEL_MASTER, sentinel, socket_timeout=2.0
            )
        return self._pools["sentinel"]


class SentinelRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SentinelCacheClient
