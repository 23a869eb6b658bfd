"""Who is online in each room, kept in Redis so every daphne process sees the same list.

Rooms are chat rooms (by id), and also game pages and the game lobby (by string key).

One sorted set per room; a member per open socket (``user id``, ``username``,
``socket id``), scored by when it expires. Each process renews the entries of its open
sockets in one batch every TTL/3 (not a timer per socket), so the entries of a process
that died disappear by themselves after the TTL.

Every operation is one Lua script run inside Redis that touches only the entries it
changes (and those expired): a room with thousands of sockets would otherwise cost a walk
or a transfer of the whole set per connect (quadratic in the room's size).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings

from common.batching import Batcher
from common.loops import PerLoop
from common.redis import get_async_redis, get_redis
from common.tasks import spawn
from realtime.registry import PROCESS_ID, alive, get_record, process_of, silent_for

logger = logging.getLogger(__name__)

_SEP = "\t"  # never in a username (letters, digits and @.+-_ only)

# Two keys per room: a sorted set of sockets ("<user id>\t<username>\t<socket id>",
# scored by expiry) and a hash counting each user's sockets ("<user id>\t<username>" ->
# count), so nothing here walks the whole room. Expired sockets (a process that died)
# are taken off both first.
_EXPIRE = """
local z, h, now = KEYS[1], KEYS[2], ARGV[1]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now)) do
  local u = string.match(m, '^([^\t]*\t[^\t]*)\t')
  if u and redis.call('HINCRBY', h, u, -1) <= 0 then redis.call('HDEL', h, u) end
end
redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
"""

# ARGV: now, expiry, socket to add ("" for none), socket to remove ("" for none),
# the user's key ("" for none), how many users to list.
# Returns {that user's sockets, users online, up to N "<id>\t<name>" entries}.
_CHANGE = (
    _EXPIRE
    + """
local user, mine = ARGV[5], 0
if ARGV[3] ~= '' and redis.call('ZADD', z, ARGV[2], ARGV[3]) == 1 then
  redis.call('HINCRBY', h, user, 1)
end
if ARGV[4] ~= '' and redis.call('ZREM', z, ARGV[4]) == 1 then
  if redis.call('HINCRBY', h, user, -1) <= 0 then redis.call('HDEL', h, user) end
end
if user ~= '' then mine = tonumber(redis.call('HGET', h, user) or '0') end
local ttl = math.floor((ARGV[2] - now) * 2000)
redis.call('PEXPIRE', z, ttl)
redis.call('PEXPIRE', h, ttl)
local listed = {}
local want = tonumber(ARGV[6])
if want > 0 then listed = redis.call('HRANDFIELD', h, want) end
return {mine, redis.call('HLEN', h), listed}
"""
)

# ARGV: now, expiry, then the sockets of this process to keep. A socket that expired
# meanwhile (the process stalled past the TTL) is counted again.
_RENEW = (
    _EXPIRE
    + """
for i = 3, #ARGV do
  if redis.call('ZADD', z, ARGV[2], ARGV[i]) == 1 then
    redis.call('HINCRBY', h, string.match(ARGV[i], '^([^\t]*\t[^\t]*)\t'), 1)
  end
end
local ttl = math.floor((ARGV[2] - now) * 2000)
redis.call('PEXPIRE', z, ttl)
redis.call('PEXPIRE', h, ttl)
"""
)


# ARGV: the suffix of the dead process's socket ids (".<process id>"). Returns how many
# sockets were taken off.
_PURGE = """
local z, h, suffix, gone = KEYS[1], KEYS[2], ARGV[1], 0
for _, m in ipairs(redis.call('ZRANGE', z, 0, -1)) do
  if string.sub(m, -#suffix) == suffix then
    redis.call('ZREM', z, m)
    gone = gone + 1
    local u = string.match(m, '^([^\t]*\t[^\t]*)\t')
    if u and redis.call('HINCRBY', h, u, -1) <= 0 then redis.call('HDEL', h, u) end
  end
end
return gone
"""


@dataclass(frozen=True)
class Change:
    first: bool  # the user's first socket in the room (a join) ...
    last: bool  # ... or their last one (a leave)
    online: int  # distinct users online afterwards
    listed: list[dict[str, Any]] = field(default_factory=list)  # some of them, by name
    sockets: int = 0  # the user's open sockets in the room afterwards


# Rooms are named by the apps ("chat-room.<id>", "game-page.<id>"; see their protocol.py).
RoomKey = int | str


def _key(room_id: RoomKey) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:presence:{room_id}"


def _keys(room_id: RoomKey) -> tuple[str, str]:
    return _key(room_id), f"{_key(room_id)}:users"


def _ttl() -> int:
    return settings.RT_PRESENCE_TTL_SECONDS


def _user(user_id: int, username: str) -> str:
    return f"{user_id}{_SEP}{username}"


def _member(user_id: int, username: str, socket_id: str) -> str:
    return f"{_user(user_id, username)}{_SEP}{socket_id}"


def _change(
    room_id: RoomKey, add: str = "", remove: str = "", user: str = "", listed: int = 0
) -> tuple[Any, ...]:
    """The arguments of one run of the _CHANGE script (async or sync client)."""
    now = time.time()
    return (_CHANGE, 2, *_keys(room_id), now, now + _ttl(), add, remove, user, listed)


Run = tuple[tuple[Any, ...], "asyncio.Future[Any]"]


class _Changes:
    """The _CHANGE runs of this process's sockets, sent to Redis together: one pipeline
    for all those asked in one turn of the loop, or while the one before was on its way.

    A connect runs two (its account's socket count, then its room), a close two more; in
    a storm of sockets connecting at once, each run on its own was a round trip of
    redis-py's Python. Batches go one after another, so this process's runs reach Redis
    in the order they were asked (a socket's enter before its leave).
    """

    def __init__(self) -> None:
        self.batches: Batcher[None, list[Run]] = Batcher(
            self._send, new=list, name="presence-changes"
        )

    async def run(self, args: tuple[Any, ...]) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.batches.pending(None).append((args, future))
        return await future

    async def _send(self, _key: None, runs: list[Run]) -> None:
        try:
            async with get_async_redis().pipeline(transaction=False) as pipe:
                for args, _future in runs:
                    pipe.eval(*args)
                results = await pipe.execute(raise_on_error=False)
        except Exception as error:
            results = [error] * len(runs)
        for (_args, future), result in zip(runs, results, strict=True):
            if future.done():  # its socket went away meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


_changes = PerLoop(_Changes)


async def _run(
    room_id: RoomKey, *, add: str = "", remove: str = "", user: str = "", listed: int = 0
) -> tuple[int, int, list[Any]]:
    mine, users, names = await _changes.get().run(_change(room_id, add, remove, user, listed))
    return int(mine), int(users), names


async def sockets(*, room_id: RoomKey, user_id: int, username: str) -> int:
    """The user's live sockets in the room."""
    mine, _users, _names = await _run(room_id, user=_user(user_id, username))
    return mine


def sockets_of(*, room_id: RoomKey, user_id: int, username: str) -> int:
    """The user's live sockets in the room, for synchronous code (services)."""
    mine, _users, _names = get_redis(timeout=2.0).eval(
        *_change(room_id, user=_user(user_id, username))
    )
    return int(mine)


class _Renewer:
    """The open sockets of this process (per room), renewed together every TTL/3."""

    def __init__(self) -> None:
        self.members: dict[RoomKey, set[str]] = defaultdict(set)
        self.task: asyncio.Task[None] | None = None

    def track(self, room_id: RoomKey, member: str) -> None:
        self.members[room_id].add(member)
        get_record().room_entered(str(room_id))
        if self.task is None or self.task.done():
            self.task = spawn(self._run(), name="rtsite-presence-renew")

    def untrack(self, room_id: RoomKey, member: str) -> None:
        members = self.members.get(room_id)
        if members is not None:
            members.discard(member)
            if not members:
                del self.members[room_id]
                get_record().room_left(str(room_id))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(_ttl() / 3)
            try:
                await self.renew()
            except Exception:  # Redis away: the next round tries again
                logger.warning("presence renewal failed", exc_info=True)

    async def renew(self) -> None:
        now = time.time()
        redis = get_async_redis()
        async with redis.pipeline(transaction=False) as pipe:
            for room_id, members in list(self.members.items()):
                pipe.eval(_RENEW, 2, *_keys(room_id), now, now + _ttl(), *members)
            await pipe.execute()


_renewers = PerLoop(_Renewer)


async def renew_all() -> None:
    """Count every socket of this process in again (it was taken for dead)."""
    await _renewer().renew()


async def purge_process(*, room_id: RoomKey, process_id: str) -> int:
    """Take a dead process's sockets off a room; how many there were."""
    return int(await get_async_redis().eval(_PURGE, 2, *_keys(room_id), f".{process_id}"))


@dataclass(frozen=True)
class Recount:
    gone: int  # sockets taken off: their process is dead
    suspect: bool  # some of those left are of a process that missed two heartbeats
    elsewhere: bool  # some of those left are of other processes


async def purge_dead(*, room_id: RoomKey) -> Recount:
    """Take off the sockets in the room whose process is dead (not yet cleaned up by a
    janitor), and say whether the others may be of a process that died a moment ago.
    Costs a walk of the room: for small rooms (one user's sockets), when a count matters
    (a refusal)."""
    members = cast("list[str]", await get_async_redis().zrange(_key(room_id), 0, -1))  # decoded
    # This process is alive, whatever its key says (its first heartbeat may be due).
    owners = {process_of(member.rpartition(_SEP)[2]) for member in members} - {PROCESS_ID}
    gone = 0
    for process_id, live in (await alive(owners)).items():
        if not live:
            gone += await purge_process(room_id=room_id, process_id=process_id)
    silence = await silent_for(owners)
    suspect = any(seconds > 2 * settings.RT_HEARTBEAT_SECONDS for seconds in silence.values())
    return Recount(gone=gone, suspect=suspect, elsewhere=bool(silence))


def _renewer() -> _Renewer:
    return _renewers.get()


async def enter(
    *, room_id: RoomKey, user_id: int, username: str, socket_id: str, listed: int = 0
) -> Change:
    """Count a socket in; with ``listed``, also name up to that many users online."""
    member = _member(user_id, username, socket_id)
    mine, users, names = await _run(
        room_id, add=member, user=_user(user_id, username), listed=listed
    )
    _renewer().track(room_id, member)
    return Change(first=mine == 1, last=False, online=users, listed=_named(names), sockets=mine)


async def leave(*, room_id: RoomKey, user_id: int, username: str, socket_id: str) -> Change:
    member = _member(user_id, username, socket_id)
    _renewer().untrack(room_id, member)
    mine, users, _ = await _run(room_id, remove=member, user=_user(user_id, username))
    return Change(first=False, last=mine == 0, online=users, sockets=mine)


async def online_users(*, room_id: RoomKey, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` of the users online (any ``limit`` of them, sorted by name) and how
    many there are in all."""
    _, users, names = await _run(room_id, listed=limit)
    return _named(names), users


def _named(entries: list[str]) -> list[dict[str, Any]]:
    users = []
    for entry in entries:
        user_id, username = entry.split(_SEP, 1)
        users.append({"id": int(user_id), "username": username})
    return sorted(users, key=lambda user: user["username"])


async def online_counts(*, room_ids: Sequence[RoomKey]) -> dict[RoomKey, int]:
    runs = await asyncio.gather(*(_run(room_id) for room_id in room_ids))
    return {room_id: users for room_id, (_mine, users, _names) in zip(room_ids, runs, strict=True)}
