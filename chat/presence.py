"""Who is online in each room, kept in Redis so every daphne process sees the same list.

One sorted set per room; a member per open socket (``user id``, ``username``,
``socket id``), scored by when it expires. Sockets refresh their entry while open, so
the entries of a process that died disappear by themselves after the TTL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from rtsite.redis import get_async_redis

_SEP = "\t"  # never in a username (letters, digits and @.+-_ only)


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


def _users(members: list[str]) -> dict[int, str]:
    users: dict[int, str] = {}
    for member in members:
        user_id, username, _channel = member.split(_SEP, 2)
        users[int(user_id)] = username
    return users


def _count(members: list[str], user_id: int) -> int:
    prefix = f"{user_id}{_SEP}"
    return sum(1 for member in members if member.startswith(prefix))


async def _update(room_id: int, add: str | None, remove: str | None) -> list[str]:
    now = time.time()
    key = _key(room_id)
    async with get_async_redis().pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now)
        if add:
            pipe.zadd(key, {add: now + _ttl()})
        if remove:
            pipe.zrem(key, remove)
        pipe.zrange(key, 0, -1)
        pipe.expire(key, _ttl() * 2)
        results = await pipe.execute()
    return results[-2]


async def enter(*, room_id: int, user_id: int, username: str, socket_id: str) -> Change:
    members = await _update(room_id, _member(user_id, username, socket_id), None)
    return Change(first=_count(members, user_id) == 1, last=False, online=len(_users(members)))


async def refresh(*, room_id: int, user_id: int, username: str, socket_id: str) -> None:
    await _update(room_id, _member(user_id, username, socket_id), None)


async def leave(*, room_id: int, user_id: int, username: str, socket_id: str) -> Change:
    members = await _update(room_id, None, _member(user_id, username, socket_id))
    return Change(first=False, last=_count(members, user_id) == 0, online=len(_users(members)))


async def online_users(*, room_id: int) -> list[dict[str, int | str]]:
    members = await _update(room_id, None, None)
    users = _users(members)
    return [
        {"id": uid, "username": name} for uid, name in sorted(users.items(), key=lambda u: u[1])
    ]


async def online_counts(*, room_ids: list[int]) -> dict[int, int]:
    now = time.time()
    redis = get_async_redis()
    async with redis.pipeline(transaction=False) as pipe:
        for room_id in room_ids:
            pipe.zrangebyscore(_key(room_id), now, "+inf")
        results = await pipe.execute()
    return {
        room_id: len(_users(members)) for room_id, members in zip(room_ids, results, strict=True)
    }
