"""Peer: the seed's Tornado game (shared/seeds/002_…) grown into snake arenas, made
runnable: the same loop as ours without Redis, processes or a database.

As in the seed: one process, an in-process list of each arena's sockets, a Tornado
``PeriodicCallback`` per arena that runs the game logic and writes the result to every
socket. The game logic is ours (``game.snake``, pure), and each tick's frame has the same
shape as ours (docs/protocol.md, ``tick``), so the two are measured on the same work.

    python bench/peers/tornado_arena.py PORT [TICKS_PER_SECOND]

``/arena/<id>?player=<n>`` joins arena <id> as player n (0: watch); the client sends
``{"type": "turn", "dir": ..., "seq": ...}``. ``GET /stats`` returns (and resets) the
tick intervals measured, as ours reports them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import tornado.ioloop
import tornado.web
import tornado.websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for game.snake (pure)

from game import snake

INTERVALS: list[float] = []


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


class Arena:
    def __init__(self, arena_id: int, tick_seconds: float) -> None:
        self.arena_id = arena_id
        self.state = snake.new_state(seed=arena_id)
        self.sockets: list[ArenaSocket] = []
        self.queues: dict[int, deque[tuple[str, int]]] = {}
        self.joins: list[int] = []
        self.last: float | None = None
        self.timer = tornado.ioloop.PeriodicCallback(self.tick, tick_seconds * 1000)
        self.timer.start()

    def world(self) -> str:
        return encode({"type": "world", "world": snake.state_to_dict(self.state)})

    def tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            INTERVALS.append(now - self.last)
        self.last = now
        turns: dict[int, str] = {}
        acks = []
        for player, queue in self.queues.items():
            if queue:
                direction, seq = queue.popleft()
                turns[player] = direction
                acks.append([player, seq])
        joins, self.joins = self.joins, []
        before = self.state
        self.state, events = snake.play(
            self.state, snake.TickInputs(turns=turns, joins=tuple(joins))
        )
        frame: dict[str, Any] = {"type": "tick", "t": self.state.tick, "e": 1}
        if events.moved:
            frame["moved"] = [[p, x, y, int(dropped)] for p, (x, y), dropped in events.moved]
        if events.died:
            frame["died"] = [list(d) for d in events.died]
        if events.spawned:
            frame["spawned"] = [
                {"player": s.player, "body": [list(c) for c in s.body], "direction": s.direction}
                for s in events.spawned
            ]
        if events.eaten:
            frame["eaten"] = [list(c) for c in events.eaten]
        if events.placed:
            frame["food"] = [list(c) for c in events.placed]
        if scores := snake.score_changes(before, self.state):
            frame["scores"] = scores
        if acks:
            frame["acks"] = acks
        text = encode(frame)
        for socket in self.sockets:
            socket.write_message(text)


ARENAS: dict[int, Arena] = {}
TICK_SECONDS = 0.1


class ArenaSocket(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, arena_id: str) -> None:
        key = int(arena_id)
        if key not in ARENAS:
            ARENAS[key] = Arena(key, TICK_SECONDS)
        self.arena = ARENAS[key]
        self.player = int(self.get_argument("player", "0"))
        self.arena.sockets.append(self)
        if self.player:
            self.arena.queues.setdefault(self.player, deque())
            self.arena.joins.append(self.player)
        self.write_message(self.arena.world())

    def on_message(self, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            return
        if frame.get("type") == "turn" and self.player:
            queue = self.arena.queues[self.player]
            if len(queue) < 2:
                queue.append((frame["dir"], frame["seq"]))

    def on_close(self) -> None:
        self.arena.sockets.remove(self)


class Stats(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write({"intervals_ms": [round(i * 1000, 2) for i in INTERVALS]})
        INTERVALS.clear()


def main() -> None:
    global TICK_SECONDS
    port = int(sys.argv[1])
    if len(sys.argv) > 2:
        TICK_SECONDS = 1 / float(sys.argv[2])
    app = tornado.web.Application([(r"/arena/(\d+)", ArenaSocket), (r"/stats", Stats)])

    async def serve() -> None:
        app.listen(port, address="127.0.0.1", backlog=2048)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
