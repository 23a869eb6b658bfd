"""The site's channel layer on two real Redis shards: a send to a process-local channel
reaches the shard its receive reads (channels-redis alone sends about half elsewhere)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer as UpstreamRedisChannelLayer
from django.conf import settings

from realtime.layers import RedisChannelLayer
from tests.conftest import RedisServer, free_port


@pytest.fixture
def two_shards(tmp_path: Path) -> Iterator[list[str]]:
    second = RedisServer(port=free_port(), directory=tmp_path)
    second.start()
    yield [settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"], second.url]
    second.kill()


async def delivered(layer: UpstreamRedisChannelLayer, count: int) -> int:
    """How many of ``count`` process-local channels got what was sent to them."""
    got = 0
    for _ in range(count):
        channel = await layer.new_channel(prefix="rtsite-hub")
        await layer.send(channel, {"type": "rt.ping"})
        try:
            async with asyncio.timeout(0.5):
                await layer.receive(channel)
            got += 1
        except TimeoutError:
            pass
    return got


async def test_sends_to_process_local_channels_arrive_on_two_shards(two_shards: list[str]) -> None:
    ours = RedisChannelLayer(hosts=two_shards, prefix=f"{settings.REDIS_KEY_PREFIX}-shards")
    assert await delivered(ours, 12) == 12


async def test_upstream_alone_loses_some_of_them(two_shards: list[str]) -> None:
    """The bug the subclass exists for: if this starts passing with 12, upstream fixed it
    and realtime/layers.py can go."""
    upstream = UpstreamRedisChannelLayer(
        hosts=two_shards, prefix=f"{settings.REDIS_KEY_PREFIX}-upstream"
    )
    assert await delivered(upstream, 12) < 12


async def test_group_add_many_adds_as_group_add_does_on_every_shard(
    two_shards: list[str],
) -> None:
    """Many groups joined in one pipeline per shard: each group's sends reach the channel,
    with the expiry channels-redis gives a group."""
    layer = RedisChannelLayer(hosts=two_shards, group_expiry=120)
    channel = await layer.new_channel(prefix="rtsite-hub")
    groups = [f"test.many.{i}" for i in range(40)]
    await layer.group_add_many(groups, channel)
    for group in groups:
        await layer.group_send(group, {"type": "x", "group": group})
    got = set()
    for _ in groups:
        async with asyncio.timeout(2):
            got.add((await layer.receive(channel))["group"])
    assert got == set(groups)
    for group in groups:
        connection = layer.connection(layer.consistent_hash(group))
        assert 0 < await connection.ttl(layer._group_key(group)) <= 120
    await layer.flush()
