"""Concurrent Connect Four games: each with 2 players and 2 spectators on real sockets,
the players making random legal moves at a fixed rate per game.

Measures move-to-broadcast latency (from sending a move until each of the game's four
sockets has the new state) and counts legal moves the server refused (there must be none).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import websockets

from bench import load
from bench.stacks import Ours

SOCKETS_PER_GAME = 4  # two players, two spectators


class OursGames(Ours):
    def url(self, port: int, room: str) -> str:
        return f"ws://127.0.0.1:{port}/ws/game/{room}/"


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    moves: int = 0
    rejected: int = 0
    finished: int = 0
    missing: int = 0  # deliveries that never came


@dataclass
class Table:
    """One game as its driver sees it."""

    game_id: int
    players: list[load.Client]
    spectators: list[load.Client]
    board: str = "." * 42
    turn: int = 1
    over: bool = False
    moves: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)  # move number -> sockets that have it
    arrived: dict[int, asyncio.Event] = field(default_factory=dict)


def setup_games(count: int) -> list[int]:
    """Fresh active games between bench users (bench00000 v bench00001, ...)."""
    from django.contrib.auth import get_user_model

    from game import services
    from game.models import Game, Status

    services.game_abort(games=Game.objects.filter(status__in=[Status.WAITING, Status.ACTIVE]))
    users = list(
        get_user_model()
        .objects.filter(username__startswith="bench")
        .order_by("username")[: 2 * count]
    )
    ids = []
    for i in range(count):
        game = services.game_create(user=users[2 * i])
        ids.append(services.game_join(game_id=game.pk, user=users[2 * i + 1]).pk)
    return ids


async def _reader(client: load.Client, table: Table, stats: Stats, player: bool) -> None:
    clock = time.perf_counter
    try:
        async for raw in client.ws:
            if raw.startswith('{"type":"error"') and player:
                stats.rejected += 1
                continue
            if not raw.startswith('{"type":"state"'):
                continue
            frame = json.loads(raw)
            game = frame["game"]
            number = game["moves"]
            if frame["last"] is None or number not in table.sent_at:
                continue
            now = clock()
            stats.latencies.append(now - table.sent_at[number])
            table.seen[number] = table.seen.get(number, 0) + 1
            if player and client is table.players[0]:
                table.board, table.turn = game["board"], game["turn"] or 0
                table.over = game["status"] != "active"
            if table.seen[number] == SOCKETS_PER_GAME:
                table.arrived[number].set()
    except websockets.ConnectionClosed:
        pass


async def _drive(table: Table, stats: Stats, rate: float, deadline: float, seed: int) -> None:
    from game.rules import from_board, legal_columns

    rng = random.Random(seed)
    next_at = time.perf_counter() + rng.random() / rate  # spread the games' phases
    while not table.over and time.perf_counter() < deadline:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        next_at += 1 / rate
        legal = legal_columns(from_board(table.board, table.turn))
        if not legal:
            break
        number = table.moves + 1
        table.arrived[number] = asyncio.Event()
        table.sent_at[number] = time.perf_counter()
        mover = table.players[table.turn - 1]
        await mover.ws.send(json.dumps({"type": "move", "column": rng.choice(legal)}))
        try:
            await asyncio.wait_for(table.arrived[number].wait(), 5)
        except TimeoutError:
            stats.missing += SOCKETS_PER_GAME - table.seen.get(number, 0)
            break
        table.moves = number
        stats.moves += 1
    if table.over:
        stats.finished += 1


async def run(stack: OursGames, games: int, seconds: float, rate: float) -> dict[str, Any]:
    headers = await asyncio.to_thread(stack.prepare, 2 * games, [])
    ids = await asyncio.to_thread(setup_games, games)
    plan: list[tuple[str, int]] = []
    socket_headers: list[dict[str, str]] = []
    for i, game_id in enumerate(ids):
        for who in range(SOCKETS_PER_GAME):
            plan.append((str(game_id), stack.ports[0]))
            socket_headers.append(headers[2 * i + who] if who < 2 else {})
    clients, connect_s, failures = await load.connect_all(stack, plan, socket_headers)
    if failures:
        raise RuntimeError(f"{failures} sockets failed to connect")
    tables = []
    for i, game_id in enumerate(ids):
        group = clients[SOCKETS_PER_GAME * i : SOCKETS_PER_GAME * (i + 1)]
        tables.append(Table(game_id=game_id, players=group[:2], spectators=group[2:]))
    stats = Stats()
    readers = [
        asyncio.create_task(_reader(c, t, stats, player=c in t.players))
        for t in tables
        for c in (*t.players, *t.spectators)
    ]
    await asyncio.sleep(1)  # presence states of the connects settle first
    resources = load.Resources(stack.pids())
    resources.start()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_drive(t, stats, rate, deadline, i) for i, t in enumerate(tables)))
    elapsed = time.perf_counter() - start
    usage = resources.stop()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await load.close_all(clients)
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    return {
        "games": games,
        "sockets": len(clients),
        "moves": stats.moves,
        "moves_per_s": round(stats.moves / elapsed, 1),
        "deliveries": len(stats.latencies),
        "missing_deliveries": stats.missing,
        "rejected_legal_moves": stats.rejected,
        "games_finished": stats.finished,
        "p50_ms": ms(load.percentile(stats.latencies, 50)),
        "p99_ms": ms(load.percentile(stats.latencies, 99)),
        "max_ms": ms(max(stats.latencies) if stats.latencies else None),
        "connect_s": round(connect_s, 2),
        **usage,
    }
