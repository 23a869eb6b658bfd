"""Snake arenas at run time: one authority per arena, across any number of processes.

The world of an arena is run by one process at a time, its *owner*, at a fixed tick
(``ARENA_TICKS_PER_SECOND``), with the pure rules of ``game.snake``. Every daphne
process can be the owner; there is no separate worker to run and supervise.

- **Lease.** The owner holds ``<prefix>:arena:<id>:owner`` in Redis; its value names the
  owner's hub channel (see Inputs). Every tick renews it in the Lua call that logs the
  tick, and that call refuses a process that no longer holds it (fencing): a stalled
  owner that lost its lease cannot write or broadcast another tick.
- **One ticker per process.** A process steps every arena it owns in one pass a tick,
  commits them all in one Lua call, hands their frames to its own sockets directly and
  sends the other processes one layer message with all of them (``publish_batch``): per
  tick, one Redis call and one group send, whatever the number of arenas.
- **Inputs.** A socket's turns, joins and leaves go to the owner through the channel
  layer, to the owner process's hub channel (``Hub.attach``), and straight to the owner
  when it is in the same process. The lease's value names that channel.
- **Turns** are for the world their player saw: each names the owner's epoch, the round
  and the newest tick its socket had, and the owner applies it within
  ``ARENA_TURN_WINDOW_TICKS`` of that tick, in that epoch and round, or never. A turn sent
  with a ``ref`` carries a tag: the tick that applies it records the tag in Redis (in the
  same call that logs the tick) and names it to the sockets, and a refusal names it too.
  Once no tick can apply it any more (a later tick past the window, a new round, a new
  owner), a tag in neither was lost with its owner (or on the way): the socket answers
  ``ack`` only for a turn applied, ``not_applied`` for the rest.
- **Ticks.** Every process's hub hands the ticks of the batches it receives to its own
  sockets, so a client may connect to any process.
- **Snapshots.** Every ``ARENA_SNAPSHOT_SECONDS`` (and at every change of players or
  phase) the owner stores the whole world; between snapshots it logs each tick's turns.
  The rules are deterministic, so snapshot + log replays to exactly the owner's world.
  A joining socket reads both to get the current world; a new owner does the same.
- **Failover.** Each process with a socket on an arena tries every ``ARENA_CLAIM_SECONDS``
  to take the lease; once a dead owner's lease lapses (``ARENA_LEASE_SECONDS``), one of
  them wins, replays, and play goes on from the last logged tick.

An arena is *waiting* (no players), in *play* (a round), or showing its round's
*results*; a round's results go to the database (``game.services``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, TypeGuard, cast

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings

from common.loops import PerLoop
from common.redis import get_async_redis, get_redis
from game import protocol, snake
from realtime import presence
from realtime.broadcast import BATCH_TYPE, make_event, publish_batch, publish_now
from realtime.hub import get_hub
from realtime.layers import channel_layer
from realtime.server import drain, metrics

logger = logging.getLogger(__name__)

WAITING, PLAY, RESULTS = "waiting", "play", "results"
# Snapshots and logs outlive their arena a while (a closed arena's keys go after this).
KEEP_SECONDS = 24 * 3600
# The tags of applied turns are kept this long: a socket asks about its own within a
# tick window or a failover of sending them.
APPLIED_KEEP_SECONDS = 60
# How often the owner counts who is on the page (players away, spectators).
PRESENCE_EVERY_SECONDS = 1.0
PROCESS = f"{socket.gethostname()}:{os.getpid()}"

# One call a tick for every arena the process owns. For arena i: KEYS owner, log,
# snapshot, applied turns; ARGV (after the lease in ms, the keep time in s, the time now
# in ms and how long applied turns are kept in ms) me, log entry or "", snapshot or "",
# the tags of the turns applied (space-separated) or "". Returns 1 for each arena still
# ours (renewed, logged), 0 for one lost: its tick is not logged and its turns not
# recorded as applied.
# (The keys of many arenas in one script: fine on one Redis, not on Redis Cluster.)
_TICK = """
local held = {}
local now, kept = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 0, #KEYS / 4 - 1 do
  local owner, log, snap, applied = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3],
    KEYS[4 * i + 4]
  local me, entry, state, tags = ARGV[4 * i + 5], ARGV[4 * i + 6], ARGV[4 * i + 7],
    ARGV[4 * i + 8]
  if redis.call('GET', owner) == me then
    redis.call('PEXPIRE', owner, ARGV[1])
    if state ~= '' then
      redis.call('SET', snap, state, 'EX', ARGV[2])
      redis.call('DEL', log)
    elseif entry ~= '' then
      redis.call('RPUSH', log, entry)
      redis.call('EXPIRE', log, ARGV[2])
    end
    if tags ~= '' then
      for tag in string.gmatch(tags, '%S+') do
        redis.call('ZADD', applied, now, tag)
      end
      redis.call('ZREMRANGEBYSCORE', applied, '-inf', now - kept)
      redis.call('PEXPIRE', applied, kept)
    end
    held[i + 1] = 1
  else
    held[i + 1] = 0
  end
end
return held
"""
# A player's seat: the arena they last joined (KEYS[1]; ARGV: the arena, the keep time).
# Returns the arena it named before, whose owner is told they left.
_TAKE_SEAT = """
local before = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return before
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def key(arena_id: int, part: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:arena:{arena_id}:{part}"


def info_key() -> str:
    """A hash: arena id -> what the owner last said of it (players, owner, lag)."""
    return f"{settings.REDIS_KEY_PREFIX}:arenas"


def ticker_key() -> str:
    """A hash: process -> its ticker's intervals since its last report (make bench)."""
    return f"{settings.REDIS_KEY_PREFIX}:arena-tickers"


def seat_key(player: int) -> str:
    """The arena a player last joined: a player has one seat (joining another arena
    leaves this one)."""
    return f"{settings.REDIS_KEY_PREFIX}:arena-seat:{player}"


def input_group(arena_id: int) -> str:
    """How the owner's hub knows an input is for this arena (a local group)."""
    return f"arena-in.{arena_id}"


def is_tag(value: Any) -> TypeGuard[str]:
    """A turn's tag, as ``new_tag`` makes them (so a space-separated list of them is
    safe to hand to the tick's script)."""
    return isinstance(value, str) and 0 < len(value) <= 32 and value.isalnum()


def new_tag() -> str:
    return secrets.token_hex(8)


async def applied_turns(arena_id: int, tags: list[str]) -> set[str]:
    """Which of these turns a tick applied (recorded with the tick, see ``_TICK``)."""
    async with get_async_redis().pipeline(transaction=False) as pipe:
        for tag in tags:
            pipe.zscore(key(arena_id, "applied"), tag)
        scores = await pipe.execute()
    return {tag for tag, score in zip(tags, scores, strict=True) if score is not None}


def lease_value(channel: str) -> str:
    # The owner's hub channel, and a token of its own: a process that takes an arena
    # again is a new owner, and the old loop's fenced writes fail.
    return f"{channel}|{secrets.token_hex(6)}"


def lease_channel(value: str) -> str:
    return value.split("|", 1)[0]


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


def world_payload(meta: Meta, state: snake.State) -> dict[str, Any]:
    """The whole world, as the sync and world frames carry it."""
    return {
        "epoch": meta.epoch,
        "tick": state.tick,
        "tick_ms": round(tick_seconds() * 1000, 3),
        "phase": meta.phase,
        "round": meta.round_number,
        "ends_in": round(max(0.0, meta.phase_ends - time.time()), 3) if meta.phase_ends else 0.0,
        "width": state.config.width,
        "height": state.config.height,
        "respawn_ticks": state.config.respawn_ticks,
        "snakes": [_snake_payload(s, state.tick) for s in state.snakes],
        "food": [list(cell) for cell in state.food],
        "players": [{"id": pid, "username": name} for pid, name in sorted(meta.names.items())],
        "acks": [[pid, seq] for pid, seq in sorted(meta.acks.items())],
        "results": meta.results,
    }


def _snake_payload(s: snake.Snake, tick: int) -> dict[str, Any]:
    return {
        "player": s.player,
        "body": [list(cell) for cell in s.body],
        "direction": s.direction,
        "alive": s.alive,
        "respawn_in": 0 if s.alive else max(0, s.respawn_at - tick),
        "score": s.score,
        "kills": s.kills,
        "deaths": s.deaths,
    }


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
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "tick", "t": state.tick, "e": meta.epoch}
    if events.moved:
        frame["moved"] = [[p, x, y, int(dropped)] for p, (x, y), dropped in events.moved]
    if events.died:
        frame["died"] = [[p, killer] for p, killer in events.died]
    if events.spawned:
        frame["spawned"] = [_snake_payload(s, state.tick) for s in events.spawned]
    if events.eaten:
        frame["eaten"] = [list(cell) for cell in events.eaten]
    if events.placed:
        frame["food"] = [list(cell) for cell in events.placed]
    if scores := snake.score_changes(before, state):
        frame["scores"] = scores
    if acks:
        frame["acks"] = acks
    # Both name the players as the world's "players" does.
    if joined:
        frame["joined"] = [{"id": p, "username": meta.names.get(p, "?")} for p in joined]
    if left:
        frame["left"] = [{"id": p, "username": name} for p, name in left.items()]
    if refused:
        frame["refused"] = refused
    return frame


def tally(s: snake.Snake, username: str) -> dict[str, Any]:
    """A player's line in a round's results."""
    return {
        "player": s.player,
        "username": username,
        "score": s.score,
        "length": len(s.body),
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


# ------------------------------------------------------------------ reading the world


async def read_world(arena_id: int) -> tuple[Meta, snake.State] | None:
    """The arena's current world: its last snapshot with the logged ticks replayed (None
    if it has never run)."""
    redis = get_async_redis()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(key(arena_id, "snapshot"))
        pipe.lrange(key(arena_id, "log"), 0, -1)
        raw, log = await pipe.execute()
    if raw is None:
        return None
    return restore(raw, log)


def restore(raw: str, log: list[str]) -> tuple[Meta, snake.State]:
    data = json.loads(raw)
    meta = Meta.from_dict(data["meta"])
    state = snake.state_from_dict(data["state"])
    for entry in log:
        tick, turns, acks = json.loads(entry)
        if tick != state.tick + 1:  # an entry from before the snapshot (never, but cheap)
            continue
        state = snake.play(state, snake.TickInputs(turns={int(p): d for p, d in turns.items()}))[0]
        for pid, seq in acks:
            meta.acks[pid] = seq
    return meta, state


def read_world_sync(arena_id: int) -> tuple[Meta, snake.State] | None:
    """``read_world`` for synchronous code (the admin)."""
    with get_redis(timeout=2).pipeline(transaction=True) as pipe:
        pipe.get(key(arena_id, "snapshot"))
        pipe.lrange(key(arena_id, "log"), 0, -1)
        raw, log = pipe.execute()
    return None if raw is None else restore(raw, log)


def read_info_sync(arena_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What the owners last said of these arenas (for the lobby and the admin)."""
    if not arena_ids:
        return {}
    values = get_redis(timeout=2).hmget(info_key(), [str(i) for i in arena_ids])
    return _fresh(arena_ids, cast("list[str | None]", values))  # decoded (common/redis.py)


async def read_info(arena_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not arena_ids:
        return {}
    values = await get_async_redis().hmget(info_key(), [str(i) for i in arena_ids])
    return _fresh(arena_ids, cast("list[str | None]", values))  # decoded (common/redis.py)


def _fresh(arena_ids: list[int], values: list[str | None]) -> dict[int, dict[str, Any]]:
    # An owner reports every snapshot; one silent for a few leases has died and nobody
    # took the arena over (nobody is on it): it has no players or spectators to show.
    silent_after = 4 * settings.ARENA_LEASE_SECONDS + settings.ARENA_SNAPSHOT_SECONDS
    found = {}
    for arena_id, value in zip(arena_ids, values, strict=True):
        if value:
            info = json.loads(value)
            if time.time() - info["at"] > silent_after:
                info.update(players=0, spectators=0, owner=None, phase=WAITING)
            found[arena_id] = info
    return found


def send_command_sync(arena_id: int, command: dict[str, Any]) -> bool:
    """A staff command (end the round, remove a player) to the arena's owner, from
    synchronous code (the admin, manage.py). False if no process runs the arena."""
    lease = cast("str | None", get_redis(timeout=2).get(key(arena_id, "owner")))  # decoded
    if not lease:
        return False
    event = {"type": protocol.EVENT_ARENA_INPUT, "group": input_group(arena_id), **command}
    async_to_sync(channel_layer().send)(lease_channel(lease), event)
    return True


# ------------------------------------------------------------------ the owner


class ArenaOwner:
    """One arena, run by this process while it holds the lease. The process's ticker
    (``ArenaHost``) steps every arena it owns at once; what an owner does between ticks
    (counting who is on the page, starting a round, storing results) runs in tasks of
    its own, off the tick."""

    def __init__(
        self, *, host: ArenaHost, arena_id: int, name: str, url: str, private: bool, lease: str
    ) -> None:
        self.host = host
        self.arena_id = arena_id
        self.name = name
        self.url = url
        self.private = private
        self.lease = lease
        self.group = protocol.arena_group(arena_id)
        self.meta = Meta()
        self.state = snake.State(config=snake.Config())
        self.queues: dict[int, deque[Turn]] = {}
        self.applied: list[str] = []  # tags of the turns the coming tick applies
        self.dropped: list[str] = []  # tags of turns refused, for the next event
        self.joins: list[int] = []
        self.leaves: dict[int, str] = {}  # player -> username (gone from meta.names)
        # The players a round starts with: its first tick says they joined it.
        self.entering: list[int] = []
        self.refused: list[int] = []
        self.snapshot_due = True
        self.last_snapshot = 0.0
        self.spectators = 0
        self.listed: dict[str, Any] | None = None
        self.outbox: list[dict[str, Any]] = []  # events for the next flush
        self.busy: asyncio.Task[None] | None = None  # a round starting, or closing
        self.tasks: list[asyncio.Task[None]] = []
        self.stopped = asyncio.Event()
        self.closing = False  # staff closed it: at the next tick

    # ---- start and stop

    async def take_over(self) -> None:
        """Start from the stored world (or a new one), as a new epoch, and say so."""
        stored = await read_world(self.arena_id)
        if stored is not None:
            self.meta, self.state = stored
        self.meta.epoch += 1
        await self.leave_other_seats()
        if self.meta.phase == RESULTS and not self.meta.stored:
            self.store_results()  # the last owner died before the results were stored
        self.snapshot_due = True
        self.queue(protocol.EVENT_ARENA_WORLD, self.world_frame())
        get_hub().attach(input_group(self.arena_id), self)
        self.tasks.append(asyncio.create_task(self.watch(), name=f"arena-{self.arena_id}-watch"))

    async def leave_other_seats(self) -> None:
        """Players who joined another arena since the stored world (the leave this arena
        was sent died with its last owner) are taken out: one seat each."""
        players = sorted(self.meta.names)
        if not players:
            return
        seats = await get_async_redis().mget([seat_key(player) for player in players])
        for player, seat in zip(players, seats, strict=True):
            if seat is not None and int(seat) != self.arena_id:
                self._leave(player)

    async def stop(self, *, release: bool = True) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        get_hub().detach(input_group(self.arena_id), self)
        for task in [*self.tasks, self.busy]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if release:
            with contextlib.suppress(Exception):
                await get_async_redis().eval(_RELEASE, 1, key(self.arena_id, "owner"), self.lease)

    # ---- inputs (from the hub: this process's channel, or straight from a local socket)

    async def hub_deliver(self, event: dict[str, Any]) -> None:
        if event.get("type") == protocol.EVENT_ARENA_INPUT:
            self.on_input(event)

    def on_input(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        player = event.get("player")
        if not isinstance(player, int):
            return
        if kind == "turn":
            self._turn(player, event)
        elif kind == "join":
            self._join(player, str(event.get("username", "?")))
        elif kind in ("leave", "remove"):
            self._leave(player)
        elif kind == "close":
            self.closing = True
        elif kind == "end_round" and self.meta.phase == PLAY:
            self.meta.phase_ends = 0.0  # ends at the next tick
            self.meta.by_staff = True

    def _turn(self, player: int, event: dict[str, Any]) -> None:
        direction, seq, tag = event.get("dir"), event.get("seq"), event.get("tag")
        tag = tag if is_tag(tag) else None
        queue = self.queues.setdefault(player, deque())
        # At most two per tick (a quick double turn); more is noise and is dropped.
        if (
            player not in self.meta.names
            or direction not in snake.STEPS
            or not isinstance(direction, str)  # (STEPS's keys are; this tells the checker)
            or not isinstance(seq, int)
            or not self._for_now(event)
            or len(queue) >= 2
        ):
            if tag is not None:
                self.dropped.append(tag)  # its socket answers not_applied
            return
        queue.append(Turn(direction, seq, tag, event.get("tick")))

    def _for_now(self, event: dict[str, Any]) -> bool:
        """Whether a turn is for the world as it is: made on this owner's ticks of this
        round, within the window of the coming tick."""
        if "epoch" not in event:
            return True  # from a process of a version before turns named their world
        tick = event.get("tick")
        return (
            self.meta.phase == PLAY
            and event["epoch"] == self.meta.epoch
            and event.get("round") == self.meta.round_number
            and isinstance(tick, int)
            and self._in_window(tick)
        )

    def _in_window(self, tick: int | None) -> bool:
        """Whether the coming tick may still apply a turn made at ``tick``."""
        return tick is None or 0 < self.state.tick + 1 - tick <= settings.ARENA_TURN_WINDOW_TICKS

    def _drop(self, turn: Turn) -> None:
        if turn.tag is not None:
            self.dropped.append(turn.tag)  # its socket answers not_applied

    def _join(self, player: int, username: str) -> None:
        if player in self.meta.names:
            self.meta.away_since.pop(player, None)
            return
        if len(self.meta.names) >= settings.ARENA_MAX_PLAYERS:
            self.refused.append(player)
            return
        self.meta.names[player] = username
        self.joins.append(player)
        self.snapshot_due = True
        self.host.seat_taken(player, self.arena_id)

    def _leave(self, player: int) -> None:
        if player not in self.meta.names:
            return
        gone = self.state.snake(player)
        if self.meta.phase == PLAY and gone is not None:
            # The rules take the snake out at the next tick: its tally stays for the
            # results (added to what the player had if they left before).
            row = tally(gone, self.meta.names[player])
            before = self.meta.departed.get(player)
            if before is not None:
                for name in ("score", "kills", "deaths"):
                    row[name] += before[name]
            self.meta.departed[player] = row
        username = self.meta.names.pop(player)
        self.meta.acks.pop(player, None)
        self.meta.away_since.pop(player, None)
        for turn in self.queues.pop(player, ()):
            self._drop(turn)
        if player in self.joins:
            self.joins.remove(player)
        self.leaves[player] = username
        self.snapshot_due = True

    # ---- a tick (synchronous: the ticker runs every owned arena's in turn)

    def step(self, now: float) -> tuple[str, str, str]:
        """Advance the arena one tick; queue what to broadcast. Returns the tick's log
        entry, when one is due the snapshot ("" for none), and the tags of the turns it
        applied (space-separated, "" for none)."""
        if self.closing:
            self.closing = False
            self._start(self.close("closed by staff"))
            return "", "", ""
        entry = ""
        phase = self.meta.phase
        if phase == PLAY:
            entry = self.play_tick(now)
        else:
            changed = bool(self.joins or self.leaves)
            self.joins.clear()
            self.leaves.clear()
            starting = self.busy is not None and not self.busy.done()
            if phase == WAITING and self.meta.names and not starting:
                self._start(self.start_round())  # its world and first tick name the players
            elif phase == RESULTS and now >= self.meta.phase_ends and not starting:
                if self.meta.names:
                    self._start(self.start_round())
                else:
                    self.meta.phase = WAITING
                    self.meta.phase_ends = 0.0
                    self.meta.results = None
                    self.snapshot_due = True
                    self.queue(protocol.EVENT_ARENA_WORLD, self.world_frame())
            elif changed and not starting:
                # No ticks between rounds: who plays next is said at once, in a world.
                self.queue(protocol.EVENT_ARENA_WORLD, self.world_frame())
        applied, self.applied = self.applied, []
        return entry, self.snapshot(now), " ".join(applied)

    def play_tick(self, now: float) -> str:
        turns: dict[int, str] = {}
        acks: list[list[int]] = []
        for player, queue in self.queues.items():
            while queue:
                turn = queue.popleft()
                if not self._in_window(turn.tick):
                    self._drop(turn)  # waited too long behind another
                    continue
                turns[player] = turn.direction
                acks.append([player, turn.seq])
                self.meta.acks[player] = turn.seq
                if turn.tag is not None:
                    self.applied.append(turn.tag)
                break
        joins, self.joins = self.joins, []
        leaves, self.leaves = self.leaves, {}
        # The round's first tick: everyone it started with joined it then.
        entering, self.entering = self.entering, []
        joined = sorted({*joins, *(p for p in entering if p in self.meta.names)})
        refused, self.refused = self.refused, []
        before = self.state
        inputs = snake.TickInputs(turns=turns, joins=tuple(joins), leaves=tuple(leaves))
        self.state, events = snake.play(self.state, inputs)
        frame = tick_frame(
            meta=self.meta,
            state=self.state,
            before=before,
            events=events,
            acks=acks,
            joined=joined,
            # (Not one who joined and left between two ticks: never in the round.)
            left={p: name for p, name in leaves.items() if before.snake(p) is not None},
            refused=refused,
        )
        self.queue(protocol.EVENT_ARENA_TICK, frame, applied=self.applied)
        # Joins and leaves are not in the log: a snapshot follows them (snapshot_due).
        entry = json.dumps([self.state.tick, {str(p): d for p, d in turns.items()}, acks])
        if not self.meta.names or now >= self.meta.phase_ends:
            self.end_round()
        return entry

    def snapshot(self, now: float) -> str:
        every = settings.ARENA_SNAPSHOT_SECONDS
        if not self.snapshot_due and now - self.last_snapshot < every:
            return ""
        self.snapshot_due = False
        # Arenas taken at the same moment would store their snapshots in the same tick
        # every second; each keeps a phase of its own.
        self.last_snapshot = now - (self.arena_id * 0.618 % 1) * every * 0.5
        return json.dumps({"meta": self.meta.to_dict(), "state": snake.state_to_dict(self.state)})

    def take_outbox(self) -> list[dict[str, Any]]:
        events, self.outbox = self.outbox, []
        return events

    def queue(
        self, event_type: str, frame: dict[str, Any], *, applied: list[str] | None = None
    ) -> None:
        # The sockets keep their place (epoch, round, phase, tick) and whether their user
        # plays, and answer the turns they sent with a tag: applied by this tick, or
        # refused since the last event.
        extra: dict[str, Any] = {
            "tick": self.state.tick,
            "epoch": self.meta.epoch,
            "round": self.meta.round_number,
            "phase": self.meta.phase,
            "players": sorted(self.meta.names),
        }
        if applied:
            extra["applied"] = list(applied)
        if self.dropped:
            extra["dropped"], self.dropped = self.dropped, []
        self.outbox.append(make_event(self.group, event_type, frame, extra=extra))

    def world_frame(self) -> dict[str, Any]:
        return protocol.arena_world_frame(world_payload(self.meta, self.state))

    def _start(self, work: Any) -> None:
        self.busy = asyncio.create_task(work, name=f"arena-{self.arena_id}-busy")

    # ---- rounds

    async def start_round(self) -> None:
        from game import services  # the services import this module

        seed = secrets.randbits(63)
        number = self.meta.round_number + 1
        round_id = await database_sync_to_async(services.arena_round_start)(
            arena_id=self.arena_id, number=number, seed=seed
        )
        if self.stopped.is_set():
            return
        self.state = snake.new_state(seed=seed, players=sorted(self.meta.names))
        self.joins.clear()
        self.leaves.clear()
        self.entering = sorted(self.meta.names)
        for queue in self.queues.values():
            for turn in queue:
                self._drop(turn)
        self.queues.clear()
        self.meta.acks.clear()
        self.meta.departed.clear()
        self.meta.round_id = round_id
        self.meta.round_number = number
        self.meta.phase = PLAY
        self.meta.phase_ends = time.time() + settings.ARENA_ROUND_SECONDS
        self.meta.results = None
        self.meta.by_staff = False
        self.snapshot_due = True
        self.queue(protocol.EVENT_ARENA_WORLD, self.world_frame())

    def end_round(self) -> None:
        self.meta.phase = RESULTS
        self.meta.phase_ends = time.time() + settings.ARENA_RESULTS_SECONDS
        self.meta.results = results_of(self.meta, self.state)
        self.meta.stored = False
        self.snapshot_due = True
        self.store_results()
        frame = protocol.arena_over_frame(
            round_number=self.meta.round_number,
            results=self.meta.results,
            next_in=settings.ARENA_RESULTS_SECONDS,
        )
        self.queue(protocol.EVENT_ARENA_OVER, frame)

    def store_results(self) -> None:
        from game import services

        meta, ticks = self.meta, self.state.tick

        async def store() -> None:
            try:
                await database_sync_to_async(services.arena_round_finish)(
                    round_id=meta.round_id,
                    ticks=ticks,
                    results=list(meta.results or []),
                    by_staff=meta.by_staff,
                )
                meta.stored = True
            except Exception:
                logger.exception("arena %s: storing round %s failed", self.arena_id, meta.round_id)

        self.tasks.append(asyncio.create_task(store(), name=f"arena-{self.arena_id}-store"))

    async def close(self, reason: str) -> None:
        from game import services

        await database_sync_to_async(services.arena_close)(arena_id=self.arena_id)
        self.queue(protocol.EVENT_ARENA_CLOSED, protocol.arena_closed_frame(reason))
        await self.host.publish(self.take_outbox())
        with contextlib.suppress(Exception):
            await get_async_redis().hdel(info_key(), str(self.arena_id))
        await self.stop()

    # ---- once a second, off the tick

    async def watch(self) -> None:
        """Who is on the page (players away too long are taken out; an arena nobody
        plays or watches closes after a while), and what the admin and the lobby show."""
        # Each arena on its own phase of the second (not all at once, as they were taken).
        await asyncio.sleep(self.arena_id * 0.618 % 1 * PRESENCE_EVERY_SECONDS)
        while not self.stopped.is_set():
            try:
                if not await self.check_presence(time.time()):
                    return
                await self.report(time.time())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("arena %s: presence or report failed", self.arena_id, exc_info=True)
            await asyncio.sleep(PRESENCE_EVERY_SECONDS)

    async def check_presence(self, now: float) -> bool:
        users, count = await presence.online_users(
            room_id=protocol.arena_presence(self.arena_id), limit=1000
        )
        here = {u["id"] for u in users}
        for player in list(self.meta.names):
            if player in here:
                self.meta.away_since.pop(player, None)
            elif now - self.meta.away_since.setdefault(player, now) >= settings.ARENA_AWAY_SECONDS:
                self._leave(player)
        self.spectators = max(0, count - len(here & set(self.meta.names)))
        if self.meta.names or count:
            self.meta.empty_since = 0.0
        elif not self.meta.empty_since:
            self.meta.empty_since = now
        elif now - self.meta.empty_since >= settings.ARENA_EMPTY_CLOSE_SECONDS:
            self._start(self.close("closed after standing empty"))
            return False
        return True

    async def report(self, now: float) -> None:
        info = {
            "players": len(self.meta.names),
            "spectators": self.spectators,
            "phase": self.meta.phase,
            "round": self.meta.round_number,
            "tick": self.state.tick,
            "owner": PROCESS,
            "lag_ms": round(self.host.lag_max * 1000, 1),
            "at": now,
        }
        await get_async_redis().hset(info_key(), str(self.arena_id), json.dumps(info))
        summary = protocol.arena_summary(
            arena_id=self.arena_id,
            name=self.name,
            url=self.url,
            players=len(self.meta.names),
            spectators=self.spectators,
            phase=self.meta.phase,
        )
        if summary != self.listed and not self.private:
            self.listed = summary
            await publish_now(
                protocol.LOBBY_GROUP,
                protocol.EVENT_LOBBY_ARENA,
                protocol.lobby_arena_frame(summary),
            )


# ------------------------------------------------------------------ per process


class ArenaHost:
    """This process's part: a claimer for each arena one of its sockets is on (it takes
    the lease when the arena has no owner), and one ticker that steps every arena this
    process owns at once: one Redis call a tick for all of them (renew, log, snapshot),
    and one layer message a tick for all their broadcasts (``publish``)."""

    def __init__(self) -> None:
        self.watching: Counter[int] = Counter()
        self.claimers: dict[int, asyncio.Task[None]] = {}
        self.owners: dict[int, ArenaOwner] = {}
        self.leases: dict[int, tuple[str | None, float]] = {}  # read when, per arena
        self.outgoing: dict[str, list[dict[str, Any]]] = {}  # inputs per owner process
        self.senders: dict[str, asyncio.Task[None]] = {}
        self.ticker: asyncio.Task[None] | None = None
        self.intervals: list[float] = []  # between tick starts, since the last report
        self.lag_max = 0.0  # the worst lateness of a tick in the last second
        self.reported = 0.0
        self.handed_over = False  # draining: this process claims no arena any more
        self.seating: set[asyncio.Task[None]] = set()  # seats being taken (_take_seat)
        drain.on_drain(self.hand_over)

    async def hand_over(self) -> None:
        """This process is draining: stop every arena it runs and release their leases
        at once. Each tick was logged before it was sent, so the process that claims an
        arena next (one its players reconnect to) goes on from the last tick anyone saw,
        within ARENA_CLAIM_SECONDS instead of when the lease would have lapsed."""
        self.handed_over = True
        owners = [owner for owner in self.owners.values() if not owner.stopped.is_set()]
        for owner in owners:
            await owner.stop(release=True)
        if owners:
            logger.warning("draining: handed over %d arena(s)", len(owners))

    def seat_taken(self, player: int, arena_id: int) -> None:
        """A player joined this arena: they leave the one they sat in before (off the
        tick, in a task of its own)."""
        task = asyncio.create_task(self._take_seat(player, arena_id), name="arena-seat")
        self.seating.add(task)
        task.add_done_callback(self.seating.discard)

    async def _take_seat(self, player: int, arena_id: int) -> None:
        try:
            before = await get_async_redis().eval(
                _TAKE_SEAT, 1, seat_key(player), arena_id, KEEP_SECONDS
            )
            if before is not None and int(before) != arena_id:
                await self.send(int(before), {"kind": "leave", "player": player})
        except Exception:  # the player keeps both seats until away from one
            logger.warning("arena seat of player %s not taken", player, exc_info=True)

    def watch(self, arena_id: int) -> None:
        self.watching[arena_id] += 1
        claimer = self.claimers.get(arena_id)
        if claimer is None or claimer.done():
            self.claimers[arena_id] = asyncio.create_task(
                self._claim_loop(arena_id), name=f"arena-{arena_id}-claimer"
            )

    def unwatch(self, arena_id: int) -> None:
        self.watching[arena_id] -= 1
        if self.watching[arena_id] <= 0:
            del self.watching[arena_id]

    async def _claim_loop(self, arena_id: int) -> None:
        while self.watching[arena_id] > 0 or arena_id in self.owners:
            owner = self.owners.get(arena_id)
            if owner is not None and owner.stopped.is_set():
                self.owners.pop(arena_id, None)
                continue
            if owner is None:
                try:
                    await self._try_claim(arena_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.warning("claiming arena %s failed", arena_id, exc_info=True)
            await asyncio.sleep(settings.ARENA_CLAIM_SECONDS)
        self.claimers.pop(arena_id, None)

    async def _try_claim(self, arena_id: int) -> None:
        from game import selectors

        if self.handed_over:
            return
        redis = get_async_redis()
        lease = lease_value(await get_hub().address())
        lease_ms = int(settings.ARENA_LEASE_SECONDS * 1000)
        if not await redis.set(key(arena_id, "owner"), lease, nx=True, px=lease_ms):
            return
        arena = await database_sync_to_async(selectors.arena_get)(arena_id=arena_id)
        if arena is None or arena.status != arena.State.OPEN:
            await redis.eval(_RELEASE, 1, key(arena_id, "owner"), lease)
            self.watching.pop(arena_id, None)
            return
        owner = ArenaOwner(
            host=self,
            arena_id=arena_id,
            name=arena.name,
            url=arena.get_absolute_url(),
            private=arena.private,
            lease=lease,
        )
        self.owners[arena_id] = owner
        logger.info("arena %s: this process (%s) runs it now", arena_id, PROCESS)
        try:
            await owner.take_over()
        except BaseException:
            self.owners.pop(arena_id, None)
            await owner.stop()
            raise
        if self.ticker is None or self.ticker.done():
            self.ticker = asyncio.create_task(self._tick_loop(), name="arena-ticker")

    async def _tick_loop(self) -> None:
        """Each arena ticks every ``tick_seconds``; the arenas are spread over
        ``ARENA_TICK_SLOTS`` slots of the tick (by id), so a pass delivers a slot's
        frames, not every arena's at once: a player sees their turn that much sooner."""
        loop = asyncio.get_running_loop()
        slots = settings.ARENA_TICK_SLOTS
        interval = tick_seconds() / slots
        due = loop.time()
        last_run: dict[int, float] = {}
        slot = 0
        script = get_async_redis().register_script(_TICK)
        while self.owners:
            due += interval
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            if slot in last_run:
                self.intervals.append(now - last_run[slot])  # a tick of this slot's arenas
            last_run[slot] = now
            lag = now - due
            if lag > 5 * tick_seconds():  # far behind (a stall): skip ahead, do not burst
                due = now
            self.lag_max = max(self.lag_max, lag)
            metrics.ARENA_TICK_LAG.observe(max(0.0, lag))
            try:
                await self.tick(script, slot=slot, slots=slots)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the arena ticker failed a tick")
            slot = (slot + 1) % slots
            await self._report()

    async def tick(self, script: Any, *, slot: int = 0, slots: int = 1) -> None:
        now = time.time()
        stepped: list[ArenaOwner] = []
        keys: list[str] = []
        args: list[Any] = [
            int(settings.ARENA_LEASE_SECONDS * 1000),
            KEEP_SECONDS,
            int(now * 1000),
            APPLIED_KEEP_SECONDS * 1000,
        ]
        for owner in list(self.owners.values()):
            if owner.stopped.is_set() or owner.arena_id % slots != slot:
                continue
            try:
                entry, snapshot, applied = owner.step(now)
            except Exception:
                logger.exception("arena %s failed a tick; giving it up", owner.arena_id)
                await owner.stop()
                continue
            stepped.append(owner)
            parts = ("owner", "log", "snapshot", "applied")
            keys += [key(owner.arena_id, part) for part in parts]
            args += [owner.lease, entry, snapshot, applied]
        if not stepped:
            return
        try:
            held = await script(keys=keys, args=args)
        except Exception:
            # Redis away: these ticks are not logged and the leases not renewed. Stop; the
            # claimers take the arenas again once Redis answers.
            logger.warning("arena ticks could not be committed; stopping", exc_info=True)
            for owner in stepped:
                await owner.stop(release=False)
            return
        events = []
        for owner, ours in zip(stepped, held, strict=True):
            if ours:
                events += owner.take_outbox()
            else:
                logger.warning("arena %s: the lease went to another process", owner.arena_id)
                await owner.stop(release=False)
        if events:
            await self.publish(events)

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """This process's sockets get the events at once; the other processes' hubs get
        them all in one layer message (``realtime.broadcast.publish_batch``)."""
        hub = get_hub()
        for event in events:
            await hub.deliver_here(event)
        await publish_batch(protocol.ARENA_BATCH_GROUP, events, origin=await hub.address())

    async def _report(self) -> None:
        now = time.time()
        if now - self.reported < PRESENCE_EVERY_SECONDS:
            return
        self.reported = now
        report = {"intervals_ms": [round(i * 1000, 2) for i in self.intervals[-200:]], "at": now}
        self.intervals = []
        with contextlib.suppress(Exception):
            await get_async_redis().hset(ticker_key(), PROCESS, json.dumps(report))
        self.lag_max = 0.0

    async def send(self, arena_id: int, event: dict[str, Any]) -> bool:
        """A player's input to the arena's owner, wherever it runs. False if no process
        runs the arena (nothing was sent)."""
        owner = self.owners.get(arena_id)
        if owner is not None and not owner.stopped.is_set():
            owner.on_input(event)
            return True
        lease, read_at = self.leases.get(arena_id, (None, 0.0))
        now = time.monotonic()
        if lease is None or now - read_at > settings.ARENA_CLAIM_SECONDS:
            lease = cast("str | None", await get_async_redis().get(key(arena_id, "owner")))
            self.leases[arena_id] = (lease, now)
        if not lease:
            return False
        event = {"type": protocol.EVENT_ARENA_INPUT, "group": input_group(arena_id), **event}
        self._send_soon(lease_channel(lease), event)
        return True

    def _send_soon(self, channel: str, event: dict[str, Any]) -> None:
        """Inputs for another process go out at once, or, while a send to it is on its
        way, together with the others after it: one layer message (one receive for that
        process's hub) per batch instead of per turn."""
        pending = self.outgoing.setdefault(channel, [])
        pending.append(event)
        sender = self.senders.get(channel)
        if sender is None or sender.done():
            self.senders[channel] = asyncio.create_task(self._send_all(channel))

    async def _send_all(self, channel: str) -> None:
        layer = channel_layer()
        while self.outgoing.get(channel):
            events = self.outgoing.pop(channel)
            batch = {"type": BATCH_TYPE, "group": "", "events": events, "at": time.time()}
            try:
                await layer.send(channel, batch)
            except Exception:
                # The owner's process is gone (or Redis is): turns are worth nothing late.
                logger.warning("arena inputs to %s were lost", channel, exc_info=True)


_hosts = PerLoop(ArenaHost)


def get_host() -> ArenaHost:
    return _hosts.get()
