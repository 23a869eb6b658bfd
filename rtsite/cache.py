"""Django's Redis cache, following the master that Redis Sentinel names (REDIS_SENTINELS).

Django's backend builds its pools from URLs; under Sentinel the pool must ask the
sentinels for the master instead, and again after a failover.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.sentinel import Sentinel, SentinelConnectionPool


class SentinelCacheClient(RedisCacheClient):
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
