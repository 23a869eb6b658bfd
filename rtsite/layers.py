"""The site's channel layer: channels-redis's, with process-local channels kept on one
shard when the layer is sharded (CHANNEL_LAYER_REDIS_URLS).

channels-redis 4.3 picks the shard of a ``send`` to a process-local channel
(``rtsite-hub.abc!xyz``) by hashing the whole name, but ``receive`` and ``group_send``
hash only the part up to the ``!`` (django/channels_redis pull request #220, open since
2020). With two shards about half of such sends went to the shard nobody reads: a
process's heartbeat ping and an arena's inputs to another process were lost. Hashing
every name at its ``!`` makes all three agree; group names cannot contain ``!``, and with
one shard every name hashes to it anyway, so nothing else changes.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer as UpstreamRedisChannelLayer


class RedisChannelLayer(UpstreamRedisChannelLayer):
    def consistent_hash(self, value: str | bytes) -> int:
        if isinstance(value, str) and "!" in value:
            value = value[: value.index("!") + 1]
        return super().consistent_hash(value)
