"""`make serve` with two workers (``manage.py serve``: supervisor, one shared listening
socket): sockets land on both, a message crosses between them, a killed worker is
restarted by supervisor, and its clients resume with nothing lost or stored twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from supervisor.xmlrpc import SupervisorTransport

from chat.models import Message, Room
from realtime.registry import alive_key, registry_key
from tests.conftest import ROOT, child_env, free_port, session_cookie
from tests.realtime.server.test_metrics import scrape, value
from tests.reliability.chatload import CarefulPoster, Reader, stop, until, wait_until_delivered
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

READERS = 30
REBALANCE_READERS = 200 if os.environ.get("RT_CHAOS") == "1" else 40


@dataclass
class Served:
    port: int
    var: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def control(self) -> Any:
        socket = self.var / "serve" / "supervisor.sock"
        transport = SupervisorTransport(None, None, f"unix://{socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def workers(self) -> dict[str, dict[str, Any]]:
        """The daphne workers (not the watchdog), by name."""
        return {
            info["name"]: info
            for info in self.control().supervisor.getAllProcessInfo()
            if info["group"] == "rtsite"
        }

    def log(self, worker: str) -> str:
        return (self.var / "serve" / f"{worker}.log").read_text()


def every_worker_beating(server: Served) -> bool:
    """Whether each running worker's heartbeat is in Redis: it starts once the worker's
    reactor runs, when it accepts on the shared socket."""
    pids = {info["pid"] for info in server.workers().values() if info["statename"] == "RUNNING"}
    store = redis.Redis.from_url(settings.REDIS_URL)
    beating = set()
    for process_id in store.smembers(registry_key()):
        info = store.get(alive_key(process_id.decode()))
        if info:
            beating.add(json.loads(info)["pid"])
    return len(pids) == 2 and pids <= beating


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/healthz/ready", timeout=2) as reply,  # noqa: S310
        ):
            if reply.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("make serve did not become ready")


@pytest.fixture
def served(django_db_setup: None, tmp_path: Path) -> Iterator[Served]:
    """`manage.py serve --workers 2`, its watchdog off (a frozen worker stays frozen)."""
    yield from serve(tmp_path, RT_WATCHDOG_SECONDS="0")


@pytest.fixture
def watched(django_db_setup: None, tmp_path: Path) -> Iterator[Served]:
    """The same with a watchdog that kills a worker silent for 2 s."""
    yield from serve(tmp_path, RT_WATCHDOG_SECONDS="2")


@pytest.fixture
def rebalancing(django_db_setup: None, tmp_path: Path) -> Iterator[Served]:
    """As ``served``; in CI the workers compare their shares every second (the default,
    5 s, under ``make chaos``)."""
    every = "5" if os.environ.get("RT_CHAOS") == "1" else "1"
    yield from serve(tmp_path, RT_WATCHDOG_SECONDS="0", RT_REBALANCE_SECONDS=every)


def serve(tmp_path: Path, **settings: str) -> Iterator[Served]:
    port = free_port()
    env = child_env(
        RTSITE_VAR_DIR=str(tmp_path),
        RT_DRAIN_SECONDS="1",
        # A frozen worker is taken for dead sooner than the default 5 s.
        RT_HEARTBEAT_SECONDS="0.5",
        RT_PROCESS_DEAD_SECONDS="2",
        RT_RATE_LIMIT_PER_SECOND="100000",
        RT_RATE_LIMIT_BURST="100000",
        **settings,
    )
    command = [sys.executable, str(ROOT / "manage.py"), "serve", "--workers", "2"]
    with open(tmp_path / "serve.log", "wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    server = Served(port=port, var=tmp_path, process=process)
    try:
        wait_ready(server.url)  # one worker answers
        deadline = time.monotonic() + 60
        while not every_worker_beating(server):  # both accept (a loaded CI is slow to start one)
            if time.monotonic() > deadline:
                raise RuntimeError("a worker of make serve did not start")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)  # supervisord drains and stops its workers
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_two_workers_share_a_socket_and_survive_a_killed_one(
    served: Served, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    path = f"/ws/chat/{room.slug}/"
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    urls = [served.ws_url]
    readers = [Reader(urls, path) for _ in range(READERS)]
    poster = CarefulPoster(urls, path, cookie, rate=10.0)
    tasks = [asyncio.create_task(client.run()) for client in (*readers, poster)]
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        # The kernel spread them over both workers (each logs the sockets it opens).
        opened = {name: served.log(name).count(" opened") for name in served.workers()}
        assert all(count > 0 for count in opened.values()), opened
        samples = await asyncio.to_thread(scrape, served.url)
        assert value(samples, "rtsite_sockets_open", app="chat") == READERS + 1
        # Messages posted through one worker reach readers on both.
        await until(lambda: len(poster.acked) >= 5)
        crossed = await wait_until_delivered(readers, sorted(poster.acked.values()), timeout=10)
        assert crossed is not None
        # One worker killed: supervisor starts another; its clients come back.
        before = served.workers()
        victim = max(opened, key=opened.__getitem__)  # the one with the most sockets
        killed_at = time.monotonic()
        os.kill(before[victim]["pid"], signal.SIGKILL)

        def restarted() -> bool:
            info = served.workers()[victim]
            return info["statename"] == "RUNNING" and info["pid"] != before[victim]["pid"]

        await until(restarted, 30)
        back_in = time.monotonic() - killed_at
        await until(lambda: all(r.ws is not None for r in readers), 30)
        await asyncio.sleep(1)
        poster.stopped = True
        await until(lambda: poster.ws is None, 15)
        committed = sorted(poster.acked.values())
        caught_up = await wait_until_delivered(readers, committed, timeout=15)
    finally:
        await stop([poster, *readers], tasks)
    stored = await database_sync_to_async(
        lambda: Counter(Message.objects.filter(room=room).values_list("body", flat=True))
    )()
    report(
        f"[make serve] 2 workers: sockets per worker {opened}; worker killed, restarted by "
        f"supervisor in {back_in:.1f} s; committed={len(committed)} "
        f"resent_after_kill={poster.unanswered} caught_up_s={caught_up and round(caught_up, 2)}"
    )
    assert caught_up is not None, "committed messages missing after the kill"
    assert set(stored) == poster.nonces(), "a message made was not stored"
    assert all(count == 1 for count in stored.values()), "a message was stored twice"
    for reader in readers:
        assert set(committed) <= reader.ids


def live_answers(url: str, count: int) -> int:
    """How many of ``count`` new requests are answered within 5 s each."""
    answered = 0
    for _ in range(count):
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/healthz/live", timeout=5) as reply,  # noqa: S310
        ):
            answered += reply.status == 200
    return answered


async def test_a_frozen_worker_hangs_no_new_request_and_catches_up_when_it_thaws(
    served: Served, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    """A SIGSTOPped process hung half of all requests behind a port-per-process proxy.
    On the shared socket it takes no new connection; past RT_PROCESS_DEAD_SECONDS the
    other worker counts it dead and cleans up after it; thawed, it finds itself taken for
    dead, joins its groups again and resyncs its sockets: nothing is lost."""
    room = await database_sync_to_async(make_room)(retention=0)
    path = f"/ws/chat/{room.slug}/"
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    readers = [Reader([served.ws_url], path) for _ in range(READERS)]
    poster = CarefulPoster([served.ws_url], path, cookie, rate=10.0)
    tasks = [asyncio.create_task(client.run()) for client in (*readers, poster)]
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        await until(lambda: len(poster.acked) >= 3)
        opened = {name: served.log(name).count(" opened") for name in served.workers()}
        frozen = max(opened, key=opened.__getitem__)
        pid = served.workers()[frozen]["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            answered = await asyncio.to_thread(live_answers, served.url, 20)
            await asyncio.sleep(3)  # past RT_PROCESS_DEAD_SECONDS
        finally:
            os.kill(pid, signal.SIGCONT)
        await asyncio.sleep(2)
        poster.stopped = True
        await until(lambda: poster.ws is None, 15)
        committed = sorted(poster.acked.values())
        caught_up = await wait_until_delivered(readers, committed, timeout=20)
    finally:
        await stop([poster, *readers], tasks)
    came_back = "was taken for dead" in served.log(frozen)
    report(
        f"[make serve] worker frozen 3+ s ({opened[frozen]} of {sum(opened.values())} sockets): "
        f"{answered}/20 new requests answered meanwhile; taken for dead and back: {came_back}; "
        f"committed={len(committed)} caught_up_s={caught_up and round(caught_up, 2)}"
    )
    assert answered == 20
    assert came_back
    wanted = set(committed)
    short = [sorted(wanted - r.ids) for r in readers if wanted - r.ids]
    assert caught_up is not None, f"messages missing after the worker thawed: {short}"


async def test_the_watchdog_restarts_a_frozen_worker(watched: Served) -> None:
    """A worker whose event loop stops (SIGSTOP here; a wedged loop alike) answers no
    liveness probe, and the shared socket hides which worker a probe reached: the
    watchdog sees its heartbeat stop and kills it, and supervisor starts another."""
    workers = watched.workers()
    victim = sorted(workers)[0]
    pid = workers[victim]["pid"]
    os.kill(pid, signal.SIGSTOP)
    stopped_at = time.monotonic()

    def replaced() -> bool:
        info = watched.workers()[victim]
        return info["statename"] == "RUNNING" and info["pid"] != pid

    await until(replaced, 30)
    took = time.monotonic() - stopped_at
    log = (watched.var / "serve" / "watchdog.log").read_text()
    assert f"(pid {pid}) silent for 2 s: killed" in log
    await asyncio.to_thread(wait_ready, watched.url)
    report(f"[make serve] frozen worker killed by the watchdog and replaced in {took:.1f} s")


def worker_shares(served: Served) -> dict[str, float]:
    """Open sockets by daphne worker (``rtsite_worker_sockets_open``: a sample a pid)."""
    pids = {str(info["pid"]) for info in served.workers().values()}
    return {
        dict(labels)["pid"]: count
        for (name, labels), count in scrape(served.url).items()
        if name == "rtsite_worker_sockets_open" and dict(labels).get("pid") in pids
    }


async def test_after_a_rolling_restart_the_workers_share_the_sockets_again(
    rebalancing: Served, make_room: Callable[..., Room]
) -> None:
    """Each worker drains in turn and its clients reconnect to the other, so after a
    rolling restart one worker held every socket, for good. The one over its share hands
    the excess back (``realtime.server.rebalance``): within a minute neither holds more than 1.25
    times the mean, and every client is connected again."""
    room = await database_sync_to_async(make_room)(retention=0)
    readers = [
        Reader([rebalancing.ws_url], f"/ws/chat/{room.slug}/") for _ in range(REBALANCE_READERS)
    ]
    tasks = [asyncio.create_task(reader.run()) for reader in readers]
    try:
        await until(lambda: all(r.ws is not None for r in readers))
        before = await asyncio.to_thread(worker_shares, rebalancing)
        restart = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(ROOT / "manage.py"), "serve", "--restart"],
            env=child_env(RTSITE_VAR_DIR=str(rebalancing.var)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restart.returncode == 0, restart.stderr
        restarted_at = time.monotonic()
        await until(lambda: all(r.ws is not None for r in readers), 30)
        after = await asyncio.to_thread(worker_shares, rebalancing)
        balanced_in = None
        shares = after
        while time.monotonic() - restarted_at < 60:
            shares = await asyncio.to_thread(worker_shares, rebalancing)
            counts = list(shares.values())
            settled = len(counts) == 2 and sum(counts) == len(readers)
            if settled and max(counts) <= 1.25 * sum(counts) / 2:
                balanced_in = time.monotonic() - restarted_at
                break
            await asyncio.sleep(0.5)
    finally:
        await stop(readers, tasks)
    report(
        f"[make serve] rolling restart with {len(readers)} sockets: per worker before "
        f"{sorted(before.values())}, right after {sorted(after.values())}, then "
        f"{sorted(shares.values())}; within 1.25x of the mean after "
        f"{balanced_in and round(balanced_in, 1)} s"
    )
    assert balanced_in is not None, f"still {shares} a minute after the restart"
    # Each worker's own process figures, which multiprocess mode leaves out by default.
    samples = await asyncio.to_thread(scrape, rebalancing.url)
    pids = {str(info["pid"]) for info in rebalancing.workers().values()}
    for name in (
        "rtsite_worker_cpu_seconds",
        "rtsite_worker_resident_memory_bytes",
        "rtsite_worker_open_fds",
    ):
        for pid in pids:
            assert value(samples, name, pid=pid) > 0, (name, pid)
