"""Who is online in each room, kept in Redis so every daphne process sees the same list.

One sorted set per room; a member per open socket (``user id``, ``username``,
``socket id``), scored by when it expires. Each process renews the entries of its open
sockets in one batch every TTL/3 (not a timer per socket), so the entries of a process
that died disappear by themselves after the TTL.

Every operation is one Lua script run inside Redis, and none sends the whole set back:
a room with thousands of sockets would otherwise cost a transfer of the whole set per
connect and per heartbeat (quadratic in the room's size).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from rtsite.redis import get_async_redis

logger = logging.getLogger(__name__)

_SEP = "\t"  # never in a username (letters, digits and @.+-_ only)

# KEYS[1] the room's set. ARGV: now, expiry of the entry, member to add ("" for none),
# member to remove ("" for none), user id prefix ("<id>\t"), how many users to list.
# Returns {sockets of that user, distinct users online, up to N "id\tname" entries}.
_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[1], ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], math.floor((ARGV[2] - ARGV[1]) * 2000))
local prefix, want = ARGV[5], tonumber(ARGV[6])
local mine, users, listed, seen = 0, 0, {}, {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if prefix ~= '' and string.sub(member, 1, #prefix) == prefix then mine = mine + 1 end
  local uid, name = string.match(member, '^([^\\t]*)\\t([^\\t]*)\\t')
  if uid and not seen[uid] then
    seen[uid] = true
    users = users + 1
    if #listed < want then table.insert(listed, uid .. '\\t' .. name) end
  end
end
return {mine, users, listed}
"""


@dataclass(frozen=True)
class Change:
    first: bool  # the user's first socket in the room (a join) ...
    last: bool  # ... or their last one (a leave)
    online: int  # distinct users online afterwards


def _key(room_id: int) -> str:
    return f"{getattr(settings, 'REDIS_KEY_PREFIX', 'rtsite')}:chat:presence:{room_id}"


def _ttl() -> int:
    return getattr(settings, "CHAT_PRESENCE_TTL_SECONDS", 60)


def _member(user_id: int, username: str, socket_id: str) -> str:
    return _SEP.join((str(user_id), username, socket_id))


async def _run(
    room_id: int, *, add: str = "", remove: str = "", user_id: int | None = None, listed: int = 0
) -> tuple[int, int, list[Any]]:
    now = time.time()
    prefix = f"{user_id}{_SEP}" if user_id is not None else ""
    mine, users, names = await get_async_redis().eval(
        _SCRIPT, 1, _key(room_id), now, now + _ttl(), add, remove, prefix, listed
    )
    return int(mine), int(users), names


class _Renewer:
    """The open sockets of this process (per room), renewed together every TTL/3."""

    def __init__(self) -> None:
        self.members: dict[int, set[str]] = defaultdict(set)
        self.task: asyncio.Task[None] | None = None

    def track(self, room_id: int, member: str) -> None:
        self.members[room_id].add(member)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="rtsite-presence-renew")

    def untrack(self, room_id: int, member: str) -> None:
        members = self.members.get(room_id)
        if members is not None:
            members.discard(member)
            if not members:
                del self.members[room_id]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(_ttl() / 3)
            try:
                await self.renew()
            except Exception:  # Redis away: the next round tries again
                logger.warning("presence renewal failed", exc_info=True)

    async def renew(self) -> None:
        expires = time.time() + _ttl()
        redis = get_async_redis()
        async with redis.pipeline(transaction=False) as pipe:
            for room_id, members in list(self.members.items()):
                pipe.zadd(_key(room_id), dict.fromkeys(members, expires))
                pipe.pexpire(_key(room_id), _ttl() * 2000)
            await pipe.execute()


_renewers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Renewer] = (
    weakref.WeakKeyDictionary()
)


def _renewer() -> _Renewer:
    loop = asyncio.get_running_loop()
    renewer = _renewers.get(loop)
    if renewer is None:
        renewer = _renewers[loop] = _Renewer()
    return renewer


async def enter(*, room_id: int, user_id: int, username: str, socket_id: str) -> Change:
    member = _member(user_id, username, socket_id)
    mine, users, _ = await _run(room_id, add=member, user_id=user_id)
    _renewer().track(room_id, member)
    return Change(first=mine == 1, last=False, online=users)


async def leave(*, room_id: int, user_id: int, username: str, socket_id: str) -> Change:
    member = _member(user_id, username, socket_id)
    _renewer().untrack(room_id, member)
    mine, users, _ = await _run(room_id, remove=member, user_id=user_id)
    return Change(first=False, last=mine == 0, online=users)


async def online_users(*, room_id: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Up to ``limit`` users online (sorted by name) and how many there are in all."""
    _, users, names = await _run(room_id, listed=limit)
    listed = []
    for entry in names:
        user_id, username = entry.split(_SEP, 1)
        listed.append({"id": int(user_id), "username": username})
    return sorted(listed, key=lambda user: user["username"]), users


async def online_counts(*, room_ids: list[int]) -> dict[int, int]:
    counts = {}
    for room_id in room_ids:
        counts[room_id] = (await _run(room_id))[1]
    return counts
