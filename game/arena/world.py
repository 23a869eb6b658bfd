"""An arena's world beside the rules' state (``Meta``), and the frames that show it."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from django.conf import settings

from game import protocol, snake
from realtime.protocol import User

logger = logging.getLogger(__name__)

WAITING, PLAY, RESULTS = "waiting", "play", "results"


def tick_seconds() -> float:
    return 1.0 / settings.ARENA_TICKS_PER_SECOND


class Turn(NamedTuple):
    direction: str
    seq: int
    tag: str | None  # sent with a ref: its socket answers once it is decided
    tick: int | None  # the newest tick its socket had (None: from an older version)


@dataclass
class Meta:
    """What the owner keeps beside the rules' state (stored in every snapshot)."""

    epoch: int = 0  # bumped by every new owner: clients drop ticks of an older one
    phase: str = WAITING
    round_id: int = 0
    round_number: int = 0
    phase_ends: float = 0.0  # wall clock: when the round (or its results) end
    names: dict[int, str] = field(default_factory=dict)  # players: id -> username
    acks: dict[int, int] = field(default_factory=dict)  # the last input applied
    away_since: dict[int, float] = field(default_factory=dict)
    empty_since: float = 0.0  # no players and nobody watching since (0: not empty)
    # Players who left during the round: their tally when they left (their snake is
    # gone from the rules' state), for the round's results.
    departed: dict[int, dict[str, Any]] = field(default_factory=dict)
    results: list[dict[str, Any]] | None = None
    stored: bool = True  # the results are in the database
    by_staff: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Meta:
        data = dict(data)
        for name in ("names", "acks", "away_since", "departed"):
            # (A snapshot of an older version may lack "departed".)
            data[name] = {int(k): v for k, v in data.get(name, {}).items()}
        return cls(**data)


def world_payload(meta: Meta, state: snake.State) -> protocol.World:
    """The whole world, as the sync and world frames carry it."""
    results = meta.results
    return protocol.World(
        epoch=meta.epoch,
        tick=state.tick,
        tick_ms=round(tick_seconds() * 1000, 3),
        phase=meta.phase,
        round=meta.round_number,
        ends_in=round(max(0.0, meta.phase_ends - time.time()), 3) if meta.phase_ends else 0.0,
        width=state.config.width,
        height=state.config.height,
        respawn_ticks=state.config.respawn_ticks,
        snakes=[_snake_payload(s, state.tick) for s in state.snakes],
        food=[list(cell) for cell in state.food],
        players=[User(id=pid, username=name) for pid, name in sorted(meta.names.items())],
        acks=[[pid, seq] for pid, seq in sorted(meta.acks.items())],
        results=None if results is None else [protocol.ArenaResult(**row) for row in results],
    )


def _snake_payload(s: snake.Snake, tick: int) -> protocol.ArenaSnake:
    return protocol.ArenaSnake(
        player=s.player,
        body=[list(cell) for cell in s.body],
        direction=s.direction,
        alive=s.alive,
        respawn_in=0 if s.alive else max(0, s.respawn_at - tick),
        score=s.score,
        kills=s.kills,
        deaths=s.deaths,
    )


def tick_frame(
    *,
    meta: Meta,
    state: snake.State,
    before: snake.State,
    events: snake.Events,
    acks: list[list[int]],
    joined: list[int],
    left: dict[int, str],
    refused: list[int],
) -> protocol.Tick:
    frame = protocol.Tick(t=state.tick, e=meta.epoch)
    if events.moved:
        frame.moved = [[p, x, y, int(dropped)] for p, (x, y), dropped in events.moved]
    if events.died:
        frame.died = [[p, killer] for p, killer in events.died]
    if events.spawned:
        frame.spawned = [_snake_payload(s, state.tick) for s in events.spawned]
    if events.eaten:
        frame.eaten = [list(cell) for cell in events.eaten]
    if events.placed:
        frame.food = [list(cell) for cell in events.placed]
    if scores := snake.score_changes(before, state):
        frame.scores = scores
    if acks:
        frame.acks = acks
    # Both name the players as the world's "players" does.
    if joined:
        frame.joined = [User(id=p, username=meta.names.get(p, "?")) for p in joined]
    if left:
        frame.left = [User(id=p, username=name) for p, name in left.items()]
    if refused:
        frame.refused = refused
    return frame


def tally(s: snake.Snake, username: str) -> dict[str, Any]:
    """A player's line in a round's results."""
    return {
        "player": s.player,
        "username": username,
        "score": s.score,
        # (A snake that is out counts the length it had when it crashed.)
        "length": s.length,
        "kills": s.kills,
        "deaths": s.deaths,
    }


def results_of(meta: Meta, state: snake.State) -> list[dict[str, Any]]:
    """Everyone who played in the round, best first: those still in it, and those who
    left it (what they had when they left; one who came back has both added up)."""
    rows = {
        s.player: tally(s, meta.names[s.player]) for s in state.snakes if s.player in meta.names
    }
    for player, gone in meta.departed.items():
        row = rows.get(player)
        if row is None:
            rows[player] = dict(gone)
        else:
            for name in ("score", "kills", "deaths"):
                row[name] += gone[name]
    ordered = list(rows.values())
    ordered.sort(key=lambda r: (-r["score"], -r["kills"], r["deaths"], r["username"]))
    return ordered
