"""Load generator: opens real WebSocket clients against a stack and measures every delivery.

Only ever targets 127.0.0.1, and every run is bounded in messages and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import websockets

from bench.stacks import Stack

CONNECT_CONCURRENCY = 200
DRAIN_SECONDS = 5.0


@dataclass
class Client:
    ws: Any
    room: str
    index: int
    received: int = 0
    replied_at: float = 0.0  # when it last answered a frame (Stack.reply)


@dataclass
class Measure:
    """Deliveries of one run: latency of each, and when each message reached everyone."""

    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    expected: int = 0
    last_receipt: dict[str, float] = field(default_factory=dict)
    members_of: dict[str, int] = field(default_factory=dict)
    receipts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_delivery: float | None = None
    last_delivery: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, tag: str, now: float) -> None:
        sent = self.sent_at.get(tag)
        if sent is None:
            return
        self.latencies.append(now - sent)
        self.last_receipt[tag] = now
        self.receipts[tag] += 1
        if self.first_delivery is None:
            self.first_delivery = now
        self.last_delivery = now
        if len(self.latencies) >= self.expected:
            self.done.set()


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Resources:
    """CPU time and peak memory of the server processes, and the client's own CPU."""

    def __init__(self, pids: list[int]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.me = psutil.Process()
        self.peak_rss = sum(p.memory_info().rss for p in self.processes)
        self._task: asyncio.Task[None] | None = None

    def _cpu(self) -> tuple[float, float]:
        server = sum(p.cpu_times().user + p.cpu_times().system for p in self.processes)
        client = self.me.cpu_times().user + self.me.cpu_times().system
        return server, client

    def _threads(self) -> tuple[float, float]:
        """CPU seconds of the servers' main threads (the event loop), and of their busiest
        other thread (the database thread, under daphne)."""
        main, other = 0.0, 0.0
        for process in self.processes:
            try:
                threads = process.threads()
            except psutil.Error:
                continue
            for thread in threads:
                seconds = thread.user_time + thread.system_time
                if thread.id == process.pid:
                    main += seconds
                else:
                    other = max(other, seconds)
        return main, other

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.processes)

    async def _sample(self) -> None:
        while True:
            self.peak_rss = max(self.peak_rss, self.rss())
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.cpu0 = self._cpu()
        self.threads0 = self._threads()
        self._task = asyncio.create_task(self._sample())

    def stop(self) -> dict[str, float]:
        if self._task:
            self._task.cancel()
        elapsed = time.perf_counter() - self.t0
        server, client = self._cpu()
        main, other = self._threads()
        return {
            "loop_thread_pct": round(100 * (main - self.threads0[0]) / elapsed, 1),
            "db_thread_pct": round(100 * (other - self.threads0[1]) / elapsed, 1),
            "server_cpu_s": round(server - self.cpu0[0], 3),
            "server_cpu_pct": round(100 * (server - self.cpu0[0]) / elapsed, 1),
            "client_cpu_pct": round(100 * (client - self.cpu0[1]) / elapsed, 1),
            "server_peak_rss_mb": round(max(self.peak_rss, self.rss()) / 2**20, 1),
        }


async def _open(
    stack: Stack, url: str, headers: dict[str, str], port: int
) -> tuple[Any, str | None]:
    ws = await websockets.connect(
        url,
        origin=f"http://127.0.0.1:{port}",
        additional_headers=headers,
        open_timeout=30,
        ping_interval=None,
        max_queue=None,
    )
    first = None
    if stack.waits_for_first_frame():
        first = await asyncio.wait_for(ws.recv(), 30)
    return ws, first


async def connect_all(
    stack: Stack,
    plan: list[tuple[str, int]],
    headers: list[dict[str, str]],
    *,
    concurrency: int | None = CONNECT_CONCURRENCY,
) -> tuple[list[Client], float, int]:
    """Open one socket per (room, port) in ``plan``; (clients, seconds, failures)."""
    gate = asyncio.Semaphore(concurrency or len(plan))
    clients: list[Client | None] = [None] * len(plan)
    failures = 0

    async def one(i: int, room: str, port: int) -> None:
        nonlocal failures
        async with gate:
            try:
                ws, first = await _open(
                    stack, stack.url(port, room), headers[i % len(headers)], port
                )
            except Exception:
                failures += 1
                return
            if not stack.joined(first) and stack.waits_for_first_frame():
                failures += 1
                await ws.close()
                return
            clients[i] = Client(ws=ws, room=room, index=i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i, room, port) for i, (room, port) in enumerate(plan)))
    return [c for c in clients if c is not None], time.perf_counter() - start, failures


async def close_all(clients: list[Client]) -> None:
    await asyncio.gather(*(c.ws.close() for c in clients), return_exceptions=True)


async def _reader(stack: Stack, client: Client, measure: Measure, prefix: str) -> None:
    clock = time.perf_counter
    try:
        async for raw in client.ws:
            tag = stack.read(raw, prefix)
            if tag is not None:
                client.received += 1
                measure.record(tag, clock())
            answer = stack.reply(raw, client)
            if answer is not None:
                await client.ws.send(answer)
    except websockets.ConnectionClosed:
        pass


async def drive(
    stack: Stack,
    clients: list[Client],
    publishers: list[Client],
    *,
    rate: float,
    messages: int,
    members: dict[str, int],
    send: Callable[[Client, str], Awaitable[None]] | None = None,
) -> tuple[Measure, dict[str, float], float, str]:
    """Publish ``messages`` at ``rate``/s from ``publishers`` (picked at random) and
    wait for every delivery (or the drain time-out). ``send`` publishes some other way
    than a frame on the publisher's socket (a notification sent by a service, say)."""

    async def over_socket(target: Client, tag: str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await target.ws.send(stack.publish(tag))

    send = send or over_socket
    prefix = f"b{uuid.uuid4().hex[:8]}:"
    measure = Measure()
    readers = [asyncio.create_task(_reader(stack, c, measure, prefix)) for c in clients]
    targets: list[Client] = []
    rng = random.Random(7)
    for _ in range(messages):
        targets.append(rng.choice(publishers))
    measure.expected = sum(members[t.room] for t in targets)
    resources = Resources(stack.pids())
    resources.start()
    start = time.perf_counter()
    for seq, target in enumerate(targets):
        due = start + seq / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tag = f"{prefix}{seq}"
        measure.members_of[tag] = members[target.room]
        measure.sent_at[tag] = time.perf_counter()
        await send(target, tag)
    send_done = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(measure.done.wait(), DRAIN_SECONDS + messages / rate)
    usage = resources.stop()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return measure, usage, send_done - start, prefix


def summarize(
    measure: Measure, send_seconds: float, *, per_message: bool = False
) -> dict[str, Any]:
    lat = measure.latencies
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    window = (measure.last_delivery - measure.first_delivery) if measure.first_delivery else 0
    result: dict[str, Any] = {
        "delivered": len(lat),
        "expected": measure.expected,
        "delivered_pct": round(100 * len(lat) / measure.expected, 2) if measure.expected else 0,
        "p50_ms": ms(percentile(lat, 50)),
        "p90_ms": ms(percentile(lat, 90)),
        "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(max(lat) if lat else None),
        "deliveries_per_s": round(len(lat) / window, 1) if window > 0 else 0,
        "send_seconds": round(send_seconds, 2),
    }
    if per_message:
        # Time from send until the last member (sender included) had the message.
        everyone = [
            measure.last_receipt[tag] - measure.sent_at[tag]
            for tag, count in measure.receipts.items()
            if count >= measure.members_of[tag]
        ]
        result["all_members_p50_ms"] = ms(percentile(everyone, 50))
        result["all_members_p99_ms"] = ms(percentile(everyone, 99))
        result["messages_reaching_all_pct"] = round(100 * len(everyone) / len(measure.sent_at), 2)
    return result
