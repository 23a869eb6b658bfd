"""The sessions and users of sockets connecting together, read together
(``realtime.logins``): one cache read, and on a cold cache one query, per batch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache, caches
from django.utils import timezone

from realtime import logins, selectors
from tests.conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def _key(cookie: str) -> str:
    return cookie.split("=", 1)[1]


async def _logged_in(make_user: Callable[..., Any], count: int) -> tuple[list[Any], list[str]]:
    users = [await database_sync_to_async(make_user)() for _ in range(count)]
    keys = [_key(await database_sync_to_async(session_cookie)(user)) for user in users]
    return users, keys


def _forget(keys: list[str], users: list[Any]) -> None:
    caches[settings.SESSION_CACHE_ALIAS].delete_many(
        [SessionStore.cache_key_prefix + key for key in keys]
    )
    cache.delete_many([logins.user_cache_key(user.pk) for user in users])


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """How many keys each database read of the module asked for."""
    asked: dict[str, list[int]] = {"sessions": [], "users": []}
    read_sessions, read_users = logins._sessions_from_db, logins._users_from_db

    def sessions(store_class: Any, keys: list[str]) -> Any:
        asked["sessions"].append(len(keys))
        return read_sessions(store_class, keys)

    def users(user_ids: list[Any]) -> Any:
        asked["users"].append(len(user_ids))
        return read_users(user_ids)

    monkeypatch.setattr(logins, "_sessions_from_db", sessions)
    monkeypatch.setattr(logins, "_users_from_db", users)
    return asked


async def test_a_cold_storm_reads_its_sessions_and_users_in_one_query_each(
    make_user: Callable[..., Any], counted: dict[str, list[int]]
) -> None:
    users, keys = await _logged_in(make_user, 12)
    await database_sync_to_async(_forget)(keys, users)
    found = await asyncio.gather(
        *(selectors.socket_user(session=SessionStore(key)) for key in keys)
    )
    assert [user.pk for user in found] == [user.pk for user in users]
    assert counted == {"sessions": [12], "users": [12]}
    # Both are cached now: the next storm reads no database at all.
    again = await asyncio.gather(
        *(selectors.socket_user(session=SessionStore(key)) for key in keys)
    )
    assert [user.pk for user in again] == [user.pk for user in users]
    assert counted == {"sessions": [12], "users": [12]}


async def test_tabs_of_one_session_share_a_read_and_the_store_keeps_what_was_read(
    make_user: Callable[..., Any], counted: dict[str, list[int]]
) -> None:
    users, keys = await _logged_in(make_user, 1)
    await database_sync_to_async(_forget)(keys, users)
    stores = [SessionStore(keys[0]) for _ in range(3)]
    found = await asyncio.gather(*(selectors.socket_user(session=s) for s in stores))
    assert {user.pk for user in found} == {users[0].pk}
    assert counted == {"sessions": [1], "users": [1]}
    # Read again in the socket (its session id, for the logout group): no load.
    assert stores[0].get(SESSION_KEY) == str(users[0].pk)


async def test_expired_unknown_and_missing_sessions_are_visitors(
    make_user: Callable[..., Any],
) -> None:
    users, keys = await _logged_in(make_user, 2)
    await database_sync_to_async(_forget)(keys, users)
    await database_sync_to_async(Session.objects.filter(session_key=keys[1]).update)(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    live, expired, unknown, none = await asyncio.gather(
        selectors.socket_user(session=SessionStore(keys[0])),
        selectors.socket_user(session=SessionStore(keys[1])),
        selectors.socket_user(session=SessionStore("x" * 32)),
        selectors.socket_user(session=SessionStore(None)),
    )
    assert live.pk == users[0].pk
    for visitor in (expired, unknown, none):
        assert isinstance(visitor, AnonymousUser)


async def test_a_socket_that_leaves_does_not_cancel_its_batch(
    make_user: Callable[..., Any],
) -> None:
    users, keys = await _logged_in(make_user, 2)
    await database_sync_to_async(_forget)(keys, users)
    leaving = asyncio.ensure_future(selectors.socket_user(session=SessionStore(keys[0])))
    staying = asyncio.ensure_future(selectors.socket_user(session=SessionStore(keys[0])))
    await asyncio.sleep(0)
    leaving.cancel()
    assert (await staying).pk == users[0].pk
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_a_batch_that_fails_fails_every_socket_of_it(
    make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    users, keys = await _logged_in(make_user, 2)
    await database_sync_to_async(_forget)(keys, users)

    async def away(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Redis away")

    # The sessions come from the database, but cannot be cached: each socket hears so
    # (and is closed to retry), none is taken for a visitor.
    monkeypatch.setattr(caches[settings.SESSION_CACHE_ALIAS], "aset_many", away)
    results = await asyncio.gather(
        *(selectors.socket_user(session=SessionStore(key)) for key in keys),
        return_exceptions=True,
    )
    assert all(isinstance(result, ConnectionError) for result in results)


def _slow_reads() -> tuple[logins.Gathered, list[list[Any]]]:
    """A ``Gathered`` over a database read that takes a while, recording its batches."""
    batches: list[list[Any]] = []

    async def read(keys: list[Any]) -> dict[Any, Any]:
        batches.append(sorted(keys))
        await asyncio.sleep(0.02)
        return {key: f"row {key}" for key in keys}

    return logins.Gathered(read, default=lambda: None, name="test"), batches


def _cache_answering_after(seconds: float) -> Callable[[], Any]:
    async def miss() -> None:
        await asyncio.sleep(seconds)

    return miss


async def test_a_miss_waits_for_the_cache_answers_still_out_then_all_are_read_together() -> None:
    # Over TCP the answers of a storm's cache reads come back over several turns of the
    # loop: the first miss waits for the others still out rather than going alone.
    gathered, batches = _slow_reads()
    found = await asyncio.gather(
        gathered.get(1, _cache_answering_after(0)),
        gathered.get(2, _cache_answering_after(0.001)),
        gathered.get(3, _cache_answering_after(0.003)),
    )
    assert found == ["row 1", "row 2", "row 3"]
    assert batches == [[1, 2, 3]]


async def test_a_key_already_being_read_joins_that_read() -> None:
    gathered, batches = _slow_reads()
    first = asyncio.ensure_future(gathered.get(1, _cache_answering_after(0)))
    await asyncio.sleep(0.01)  # the read of key 1 is under way
    assert batches == [[1]]
    # Another tab of the same session: its cache read misses too, and it joins.
    second = await gathered.get(1, _cache_answering_after(0))
    assert second == await first == "row 1"
    assert batches == [[1]]


async def test_a_miss_waits_at_most_a_few_milliseconds_for_the_cache() -> None:
    gathered, batches = _slow_reads()
    slow = asyncio.ensure_future(gathered.get(2, _cache_answering_after(0.2)))
    assert await gathered.get(1, _cache_answering_after(0)) == "row 1"
    assert batches == [[1]]  # read before the slow cache answer came
    assert await slow == "row 2"
    assert batches == [[1], [2]]


async def test_a_cache_hit_is_not_read_again_and_an_unknown_key_gets_the_default() -> None:
    gathered, batches = _slow_reads()

    async def hit() -> str:
        return "cached"

    async def read(keys: list[Any]) -> dict[Any, Any]:
        batches.append(keys)
        return {}

    assert await gathered.get(1, hit) == "cached"
    assert batches == []
    unknown = logins.Gathered(read, default=dict, name="test")
    assert await unknown.get(9, _cache_answering_after(0)) == {}
