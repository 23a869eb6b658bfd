"""An arena's keys in Redis, the Lua calls on them, and reading a stored world."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from typing import Any, TypeGuard, cast

from asgiref.sync import async_to_sync
from django.conf import settings

from common.redis import get_async_redis, get_redis
from game import protocol, snake
from game.arena.world import WAITING, Meta
from realtime.layers import channel_layer

logger = logging.getLogger(__name__)


# Snapshots and logs outlive their arena a while (a closed arena's keys go after this).
KEEP_SECONDS = 24 * 3600
# The tags of applied turns are kept this long: a socket asks about its own within a
# tick window or a failover of sending them.
APPLIED_KEEP_SECONDS = 60
PROCESS = f"{socket.gethostname()}:{os.getpid()}"

# One call a tick for every arena the process owns. For arena i: KEYS owner, log,
# snapshot, applied turns; ARGV (after the lease in ms, the keep time in s, the time now
# in ms and how long applied turns are kept in ms) me, log entry or "", snapshot or "",
# the tags of the turns applied (space-separated) or "". Returns 1 for each arena still
# ours (renewed, logged), 0 for one lost: its tick is not logged and its turns not
# recorded as applied.
# (The keys of many arenas in one script: fine on one Redis, not on Redis Cluster.)
TICK_SCRIPT = """
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
TAKE_SEAT_SCRIPT = """
local before = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return before
"""
RELEASE_SCRIPT = """
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
    """Which of these turns a tick applied (recorded with the tick, see ``TICK_SCRIPT``)."""
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
