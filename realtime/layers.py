"""The site's channel layer: channels-redis's, with process-local channels kept on one
shard when the layer is sharded (CHANNEL_LAYER_REDIS_URLS).

channels-redis 4.3 picks the shard of a ``send`` to a process-local channel
(``rtsite-hub.abc!xyz``) by hashing the whole name, but ``receive`` and ``group_send``
hash only the part up to the ``!`` (django/channels_redis pull request #220, open since
2020). With two shards about half of such sends went to the shard nobody reads: a
process's heartbeat ping and an arena's inputs to another process were lost. Hashing
every name at its ``!`` makes all three agree; group names cannot contain ``!``, and with
one shard every name hashes to it anyway, so nothing else changes.

It also adds ``group_add_many`` and ``group_send_except``, and sends to a group in two
round trips instead of four (below).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer as UpstreamRedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# Groups per pipeline in ``group_add_many`` (a rejoin after an outage may carry 50,000).
PIPELINE_GROUPS = 1000

# channels-redis 4.3's own script for a group send (``RedisChannelLayer.group_send``):
# each channel's message added unless the channel is at its capacity.
GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""
# What ``group_add_many`` and the group sends read of channels-redis's layer.
UPSTREAM_INTERNALS = (
    "_group_key",
    "_map_channel_keys_to_connection",
    "connection",
    "group_expiry",
    "expiry",
)


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
        if not self.internals_fit():
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

    def internals_fit(self) -> bool:
        return all(hasattr(self, name) for name in UPSTREAM_INTERNALS)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._send_to_group(group, message, skip=None)

    async def group_send_except(self, group: str, message: dict[str, Any], *, skip: str) -> None:
        await self._send_to_group(group, message, skip=skip)

    async def _send_to_group(
        self, group: str, message: dict[str, Any], *, skip: str | None
    ) -> None:
        """``group_send`` to every member of ``group`` but the channel ``skip``: a process
        that handed a broadcast to its own sockets itself does not send its hub a copy to
        read back and drop (with all of a room's sockets on one process, nothing goes
        further). It writes what channels-redis's ``group_send`` writes, through its
        internals, in two round trips instead of four: the group's members read with
        their cleanup in one pipeline, then per shard the channels' cleanup with the send
        script in another (none when no member is left). Should the internals change
        shape, it is channels-redis's ``group_send``, ``skip`` included."""
        if not self.internals_fit():
            await super().group_send(group, message)
            return
        self.require_valid_group_name(group)  # raises TypeError, as group_send would
        key = self._group_key(group)
        async with self.connection(self.consistent_hash(group)).pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
            pipe.zrange(key, 0, -1)
            _removed, members = await pipe.execute()
        channels = [name for name in (m.decode("utf8") for m in members) if name != skip]
        if not channels:
            return
        by_shard, messages, capacities = self._map_channel_keys_to_connection(channels, message)
        for index, keys in by_shard.items():
            async with self.connection(index).pipeline(transaction=False) as pipe:
                for channel_key in keys:
                    pipe.zremrangebyscore(
                        channel_key, min=0, max=int(time.time()) - int(self.expiry)
                    )
                pipe.eval(
                    GROUP_SEND_LUA,
                    len(keys),
                    *keys,
                    *(messages[k] for k in keys),
                    *(capacities[k] for k in keys),
                    time.time(),
                    self.expiry,
                )
                over_capacity = (await pipe.execute())[-1]
            if over_capacity:
                logger.info(
                    "%s of %s channels over capacity in group %s",
                    over_capacity,
                    len(channels),
                    group,
                )


def channel_layer() -> BaseChannelLayer:
    """``get_channel_layer()`` for code that sends: the site always configures a default
    layer (rtsite/settings.py), so "no layer" is a configuration error, said as one."""
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no default layer")
    return layer
