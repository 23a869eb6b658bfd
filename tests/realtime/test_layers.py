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


async def _members(layer: UpstreamRedisChannelLayer, group: str, processes: int) -> list[str]:
    """``processes`` hubs' channels (one per layer, as each process has one) and a
    socket's own channel, in ``group``."""
    kind, config = type(layer), {"hosts": layer.hosts, "prefix": layer.prefix}
    channels = [await kind(**config).new_channel(prefix="rtsite-hub") for _ in range(processes)]
    channels.append(await layer.new_channel())
    for channel in channels:
        await layer.group_add(group, channel)
    return channels


def _key(layer: UpstreamRedisChannelLayer, channel: str) -> tuple[str, int]:
    """Where a group send puts ``channel``'s messages: its key and shard."""
    name = layer.non_local_name(channel) if "!" in channel else channel
    return layer.prefix + name, layer.consistent_hash(name)


async def _stored(layer: UpstreamRedisChannelLayer, channel: str) -> list[bytes]:
    key, shard = _key(layer, channel)
    return await layer.connection(shard).zrange(key, 0, -1)


@pytest.mark.parametrize("shards", [1, 2])
async def test_a_group_send_writes_what_channels_redis_writes(
    two_shards: list[str], shards: int
) -> None:
    """Ours (two round trips) and channels-redis's (four) leave the same in Redis: each
    member's message, its expiry, a member at its capacity skipped."""
    hosts = two_shards[:shards]
    kept: dict[str, list[dict[str, object]]] = {}
    for name, kind in (("ours", RedisChannelLayer), ("upstream", UpstreamRedisChannelLayer)):
        layer = kind(hosts=hosts, prefix=f"{settings.REDIS_KEY_PREFIX}-{name}{shards}", expiry=30)
        layer.channel_capacity = layer.compile_capacities({"full.*": 1})
        full = "full.socket"
        await layer.group_add("test.fill", full)
        await layer.group_send("test.fill", {"type": "already"})
        channels = [*await _members(layer, "test.same", 3), full]
        await layer.group_add("test.same", full)
        await layer.group_send("test.same", {"type": "x", "n": 1})
        seen = []
        for channel in channels:
            for raw in await _stored(layer, channel):
                message = layer.deserialize(raw)
                message.pop("__asgi_channel__", None)
                seen.append(message)
            key, shard = _key(layer, channel)
            assert 0 < await layer.connection(shard).ttl(key) <= 30
        kept[name] = seen
        await layer.flush()
    assert kept["ours"] == kept["upstream"]
    assert kept["ours"] == [{"type": "x", "n": 1}] * 4 + [{"type": "already"}]


async def test_a_group_send_can_leave_out_the_senders_own_hub(two_shards: list[str]) -> None:
    """The channel left out gets nothing; with no other member, nothing is written."""
    layer = RedisChannelLayer(hosts=two_shards, prefix=f"{settings.REDIS_KEY_PREFIX}-skip")
    own, other, socket = await _members(layer, "test.skip", 2)
    await layer.group_send_except("test.skip", {"type": "x"}, skip=own)
    assert await _stored(layer, own) == []
    assert len(await _stored(layer, other)) == len(await _stored(layer, socket)) == 1
    await layer.group_discard("test.skip", other)
    await layer.group_discard("test.skip", socket)
    await layer.group_send_except("test.skip", {"type": "y"}, skip=own)
    assert await _stored(layer, own) == []
    await layer.flush()
