"""The site's channel layer: channels-redis's, with process-local channels kept on one
shard when the layer is sharded (CHANNEL_LAYER_REDIS_URLS).

channels-redis 4.3 picks the shard of a ``send`` to a process-local channel
(``rtsite-hub.abc!xyz``) by hashing the whole name, but ``receive`` and ``group_send``
hash only the part up to the ``!`` (django/channels_redis pull request #220, open since
2020). With two shards about half of such sends went to the shard nobody reads: a
process's heartbeat ping and an arena's inputs to another process were lost. Hashing
every name at its ``!`` makes all three agree; group names cannot contain ``!``, and with
one shard every name hashes to it anyway, so nothing else changes.

It also adds ``group_add_many`` (below).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer as UpstreamRedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

# Groups per pipeline in ``group_add_many`` (a rejoin after an outage may carry 50,000).
PIPELINE_GROUPS = 1000


class RedisChannelLayer(UpstreamRedisChannelLayer):
    def consistent_hash(self, value: str | bytes) -> int:
        if isinstance(value, str) and "!" in value:
            value = value[: value.index("!") + 1]
        return super().consistent_hash(value)

    async def group_add_many(self, groups: Iterable[str], channel: str) -> None:
        """``group_add`` of one channel to many groups: a pipeline per shard instead of two
        round trips per group (a connect storm joins thousands; ``realtime.hub`` batches
        them). It writes what channels-redis's ``group_add`` writes, through the same
        internals; should they change shape, it falls back to ``group_add`` one by one."""
        groups = list(groups)
        if not all(hasattr(self, name) for name in ("_group_key", "connection", "group_expiry")):
            for group in groups:
                await self.group_add(group, channel)
            return
        self.require_valid_channel_name(channel)  # raises TypeError, as group_add would
        by_shard: dict[int, list[str]] = defaultdict(list)
        for group in groups:
            self.require_valid_group_name(group)
            by_shard[self.consistent_hash(group)].append(group)
        now = time.time()
        for index, names in by_shard.items():
            for start in range(0, len(names), PIPELINE_GROUPS):
                async with self.connection(index).pipeline(transaction=False) as pipe:
                    for name in names[start : start + PIPELINE_GROUPS]:
                        key = self._group_key(name)
                        pipe.zadd(key, {channel: now})
                        pipe.expire(key, self.group_expiry)
                    await pipe.execute()


def channel_layer() -> BaseChannelLayer:
    """``get_channel_layer()`` for code that sends: the site always configures a default
    layer (rtsite/settings.py), so "no layer" is a configuration error, said as one."""
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no default layer")
    return layer
