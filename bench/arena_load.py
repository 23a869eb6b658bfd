"""Snake arenas under load: N arenas, each with players sending random legal turns at
human rates and spectators watching, on ours (one or two daphne processes, the arena's
loop in whichever process holds its lease) and on the Tornado peer (one process, the
seed's in-process list and a PeriodicCallback per arena, the same rules module).

Measured in the same way on both:
- tick interval p50/p99 (the servers' own clocks: ours reports them with each snapshot,
  the peer on GET /stats);
- input-to-broadcast latency p50/p99: from a player sending a turn until its own socket
  has the tick that applied it (the tick's ``acks``);
- bytes per client per second, and server CPU per arena;
- (ours, two processes) failover: the owner of most arenas is killed; how long until
  their ticks resume on the other process, and how many ticks were not run meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from bench import load
from bench.stacks import ROOT, Ours, Stack

DIRECTIONS = ("up", "down", "left", "right")
PERPENDICULAR = {
    "up": ("left", "right"),
    "down": ("left", "right"),
    "left": ("up", "down"),
    "right": ("up", "down"),
}


class OursArenas(Ours):
    def url(self, port: int, room: str) -> str:
        arena_id = room.split("/")[0]
        return f"ws://127.0.0.1:{port}/ws/game/arena/{arena_id}/"

    def prepare_arenas(self, count: int, players: int) -> tuple[list[int], list[Any]]:
        """Fresh arenas (older bench arenas closed), and their players' session headers."""
        from django.contrib.auth import get_user_model

        from game import services
        from game.models import Arena

        headers = self.prepare(max(1, count * players), [])
        Arena.objects.filter(status=Arena.State.OPEN).update(status=Arena.State.CLOSED)
        user = get_user_model().objects.filter(username__startswith="bench").first()
        ids = [services.arena_create(user=user).pk for _ in range(count)]
        return ids, headers

    def info(self) -> dict[int, dict[str, Any]]:
        from common.redis import get_redis
        from game.arena.store import info_key

        raw = get_redis(timeout=5).hgetall(info_key())
        return {int(k): json.loads(v) for k, v in raw.items()}

    def tickers(self) -> dict[str, dict[str, Any]]:
        """Each process's ticker report (its tick intervals since the one before)."""
        from common.redis import get_redis
        from game.arena.store import ticker_key

        raw = get_redis(timeout=5).hgetall(ticker_key())
        return {k: json.loads(v) for k, v in raw.items()}


class TornadoArenas(Stack):
    def __init__(self, ticks_per_second: float) -> None:
        super().__init__(name="tornado-arena")
        self.ticks_per_second = ticks_per_second

    def command(self, port: int) -> list[str]:
        import sys

        script = str(ROOT / "bench" / "peers" / "tornado_arena.py")
        return [sys.executable, script, str(port), str(self.ticks_per_second)]

    def url(self, port: int, room: str) -> str:
        arena_id, player = room.split("/")
        return f"ws://127.0.0.1:{port}/arena/{arena_id}?player={player}"

    def stats(self) -> list[float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[0]}/stats", timeout=10) as r:
            return list(json.loads(r.read())["intervals_ms"])


@dataclass
class Seat:
    """One socket of the load: a player (with its id once known) or a spectator."""

    arena: int
    port: int
    headers: dict[str, str]
    spectator: bool = False
    player: int = 0  # the player's id (ours: known from the sync)
    ws: Any = None
    direction: str = "right"
    head: tuple[int, int] | None = None
    sent: dict[int, float] = field(default_factory=dict)
    seq: int = 0
    offset: int = field(default_factory=lambda: random.randrange(10))
    bytes: int = 0
    tick: int = 0
    epoch: int = 0
    ticks_at: list[tuple[int, int, float]] = field(default_factory=list)  # epoch, tick, when


def heading(old: tuple[int, int], new: tuple[int, int]) -> str:
    (ox, oy), (nx, ny) = old, new
    if nx != ox:
        return "right" if nx > ox else "left"
    return "down" if ny > oy else "up"


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    turns: int = 0
    errors: int = 0


async def _read(seat: Seat, run: Run, ours: bool) -> None:
    clock = time.perf_counter
    try:
        async for raw in seat.ws:
            now = clock()
            seat.bytes += len(raw)
            if raw.startswith('{"type":"error"'):
                run.errors += 1
                continue
            if raw.startswith('{"type":"tick"'):
                frame = json.loads(raw)
                seat.tick, seat.epoch = frame["t"], frame["e"]
                if seat.spectator:
                    seat.ticks_at.append((frame["e"], frame["t"], now))
                for player, seq in frame.get("acks", ()):
                    if player == seat.player and seq in seat.sent:
                        run.latencies.append(now - seat.sent.pop(seq))
                for player, x, y, _tail in frame.get("moved", ()):
                    if player == seat.player:
                        if seat.head is not None:
                            hx, hy = seat.head
                            seat.direction = (
                                "right"
                                if x > hx
                                else "left"
                                if x < hx
                                else "down"
                                if y > hy
                                else "up"
                            )
                        seat.head = (x, y)
                for spawned in frame.get("spawned", ()):
                    if spawned["player"] == seat.player:
                        seat.direction, seat.head = spawned["direction"], tuple(spawned["body"][0])
                if ours and (frame["t"] + seat.offset) % 10 == 0:  # as the page: spread
                    await seat.ws.send(json.dumps({"type": "seen", "tick": frame["t"]}))
            elif raw.startswith('{"type":"sync"') or raw.startswith('{"type":"world"'):
                frame = json.loads(raw)
                if frame["type"] == "sync" and frame["you"]["id"] and not seat.spectator:
                    seat.player = frame["you"]["id"]
                world = frame.get("world")
                if world and "epoch" in world:
                    seat.tick, seat.epoch = world["tick"], world["epoch"]
    except Exception:  # noqa: S110 - a closed socket ends its reader
        pass


async def _steer(seat: Seat, run: Run, deadline: float, rng: random.Random) -> None:
    """Random legal turns at a human rate: a new direction every 0.3 to 1.2 seconds."""
    while time.perf_counter() < deadline:
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        if not seat.player:
            continue
        seat.seq += 1
        direction = rng.choice(PERPENDICULAR[seat.direction])
        seat.sent[seat.seq] = time.perf_counter()
        try:
            await seat.ws.send(json.dumps({"type": "turn", "dir": direction, "seq": seat.seq}))
        except Exception:
            return
        run.turns += 1


async def _connect(
    stack: Stack, seats: list[Seat], ours: bool, run: Run, readers: list[asyncio.Task[None]]
) -> int:
    """Open every seat's socket and start reading it at once, as a page does (ours drops
    a socket that does not read)."""
    gate = asyncio.Semaphore(load.CONNECT_CONCURRENCY)
    failures = 0

    async def one(seat: Seat) -> None:
        nonlocal failures
        async with gate:
            room = f"{seat.arena}/{0 if ours else seat.player}"
            url = stack.url(seat.port, room)
            try:
                seat.ws, first = await load._open(stack, url, seat.headers, seat.port)
            except Exception:
                failures += 1
                return
            if first is not None and not seat.spectator:  # ours: the sync says who you are
                seat.player = json.loads(first)["you"]["id"] or 0
            readers.append(asyncio.create_task(_read(seat, run, ours)))

    await asyncio.gather(*(one(s) for s in seats))
    return failures


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


async def run(
    stack: Stack,
    *,
    arenas: int,
    players: int,
    spectators: int,
    seconds: float,
    processes: int,
    kill_owner: bool = False,
) -> dict[str, Any]:
    ours = isinstance(stack, OursArenas)
    if ours:
        ids, headers = await asyncio.to_thread(stack.prepare_arenas, arenas, players)
    else:
        ids, headers = list(range(1, arenas + 1)), []
    seats: list[Seat] = []
    for a, arena_id in enumerate(ids):
        for p in range(players):
            seat = Seat(arena=arena_id, port=stack.ports[(a + p) % len(stack.ports)], headers={})
            if ours:
                seat.headers = headers[a * players + p]
            else:
                seat.player = p + 1
            seats.append(seat)
        for s in range(spectators):
            port = stack.ports[(a + s) % len(stack.ports)]
            seats.append(Seat(arena=arena_id, port=port, headers={}, spectator=True))
    runs = Run()
    readers: list[asyncio.Task[None]] = []
    failures = await _connect(stack, seats, ours, runs, readers)
    if failures:
        raise RuntimeError(f"{failures} sockets failed to connect")
    if ours:
        for seat in seats:
            if not seat.spectator:
                await seat.ws.send(json.dumps({"type": "join"}))
    await asyncio.sleep(3)  # the owners take their arenas; rounds start
    if ours:
        await asyncio.to_thread(stack.info)  # (warm)
    else:
        await asyncio.to_thread(stack.stats)  # drop the start-up intervals
    for seat in seats:
        seat.bytes = 0
    intervals: list[float] = []
    seen_reports: dict[str, float] = {}
    start_wall = time.time()

    async def collect_ours() -> None:
        while True:
            for process, report in (await asyncio.to_thread(stack.tickers)).items():
                if report["at"] > start_wall and report["at"] != seen_reports.get(process):
                    seen_reports[process] = report["at"]
                    intervals.extend(report["intervals_ms"])
            await asyncio.sleep(0.3)

    collector = asyncio.create_task(collect_ours()) if ours else None
    resources = load.Resources(stack.pids())
    resources.start()
    start = time.perf_counter()
    rng = random.Random(7)
    await asyncio.gather(
        *(
            _steer(s, runs, start + seconds, random.Random(rng.random()))
            for s in seats
            if not s.spectator
        )
    )
    elapsed = time.perf_counter() - start
    usage = resources.stop()
    if collector is not None:
        await asyncio.sleep(1.2)  # the last reports
        collector.cancel()
    else:
        intervals = await asyncio.to_thread(stack.stats)
    target_ms = 1000 / stack_ticks(stack)
    row: dict[str, Any] = {
        "arenas": arenas,
        "sockets": len(seats),
        "processes": processes,
        "ticks_measured": len(intervals),
        "tick_target_ms": round(target_ms, 1),
        "tick_p50_ms": _round(load.percentile(intervals, 50)),
        "tick_p99_ms": _round(load.percentile(intervals, 99)),
        "tick_p99_vs_target": _round((load.percentile(intervals, 99) or 0) / target_ms, 3),
        "turns": runs.turns,
        "input_p50_ms": _ms(load.percentile(runs.latencies, 50)),
        "input_p99_ms": _ms(load.percentile(runs.latencies, 99)),
        "inputs_unanswered": runs.turns - len(runs.latencies),
        "errors": runs.errors,
        "bytes_per_client_s": round(sum(s.bytes for s in seats) / len(seats) / elapsed),
        "cpu_pct_per_arena": round(usage["server_cpu_pct"] / arenas, 2),
        **usage,
    }
    if kill_owner and ours and len(stack.processes) > 1:
        row.update(await _failover(stack, ids, seats))
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(s.ws.close() for s in seats), return_exceptions=True)
    return row


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def stack_ticks(stack: Stack) -> float:
    if isinstance(stack, TornadoArenas):
        return stack.ticks_per_second
    from django.conf import settings

    return float(settings.ARENA_TICKS_PER_SECOND)


async def _failover(stack: Any, ids: list[int], seats: list[Seat]) -> dict[str, Any]:
    """Kill the process that owns most arenas; time the resumption of their ticks on
    spectators connected to the other process."""
    info = await asyncio.to_thread(stack.info)
    pids = {p.pid: i for i, p in enumerate(stack.processes)}
    owners: dict[int, int] = {}
    for arena_id in ids:
        owner = info.get(arena_id, {}).get("owner")
        if owner:
            owners[arena_id] = pids.get(int(owner.rsplit(":", 1)[1]), -1)
    counts = [list(owners.values()).count(i) for i in range(len(stack.processes))]
    doomed = max(range(len(counts)), key=lambda i: counts[i])
    survivor_port = stack.ports[1 - doomed]
    watched = {
        s.arena: s
        for s in seats
        if s.spectator and s.port == survivor_port and owners.get(s.arena) == doomed
    }
    before = {a: (s.epoch, s.tick) for a, s in watched.items()}
    stack.processes[doomed].kill()
    killed = time.perf_counter()

    def resumed_at(arena_id: int) -> float | None:
        epoch, _tick = before[arena_id]
        seat = watched[arena_id]
        return next((at for e, _t, at in seat.ticks_at if e > epoch and at > killed), None)

    while time.perf_counter() - killed < 10:  # every arena back, or given up on
        if all(resumed_at(a) is not None for a in watched):
            break
        await asyncio.sleep(0.1)
    gaps = [at - killed for a in watched if (at := resumed_at(a)) is not None]
    tick_s = 1 / stack_ticks(stack)
    return {
        "failover_arenas": len(watched),
        "failover_resumed": len(gaps),
        "failover_p50_s": _round(load.percentile(gaps, 50)),
        "failover_max_s": _round(max(gaps) if gaps else None),
        "ticks_lost_max": round(max(gaps) / tick_s) if gaps else None,
    }
