"""The site's channel layer on two real Redis shards: a send to a process-local channel
reaches the shard its receive reads (channels-redis alone sends about half elsewhere)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer as UpstreamRedisChannelLayer
from django.conf import settings

from rtsite.layers import RedisChannelLayer
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
    and rtsite/layers.py can go."""
    upstream = UpstreamRedisChannelLayer(
        hosts=two_shards, prefix=f"{settings.REDIS_KEY_PREFIX}-upstream"
    )
    assert await delivered(upstream, 12) < 12
