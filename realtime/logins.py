"""The login sessions and user rows of sockets connecting at the same moment: from the
cache one by one, and those the cache does not have from the database for all of them
at once.

A connect storm after a Redis restart or a deploy opens hundreds of logged-in sockets in
a second with nothing cached. Read one by one, each socket's session and user row is a
trip to the database thread and a query of its own. Here the misses share one query for
their sessions and one for their users, then one cache write for each: a miss waits
until every cache read asked before it has its answer (the sockets of a storm ask
together, and over TCP their answers come back over several turns of the event loop),
at most ``GATHER_AT_MOST_SECONDS``; a key already being read from the database joins
that read (the tabs of one session). A lone socket waits no time. A cache hit is not
gathered: a GET is as cheap as joining a batch (measured: gathering the hits too cost
more than it saved).

What is read is what Django's ``cached_db`` session store and ``realtime.selectors``
would read one at a time: an expired or unknown session is empty, a session the cache
cannot give is read from the database, and a cache that cannot be written raises (the
socket is closed to be retried, never taken for a visitor's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends import cached_db
from django.core.cache import cache, caches
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from common.loops import PerLoop
from common.tasks import spawn

# The longest a miss waits for the cache's other answers: under a steady storm some are
# always on their way, and a batch must still go.
GATHER_AT_MOST_SECONDS = 0.005

Waiting = dict[Any, "asyncio.Future[Any]"]


def user_cache_key(user_id: Any) -> str:
    return f"rtsite.user.{user_id}"


def _sessions_from_db(store_class: type[cached_db.SessionStore], keys: list[str]) -> Any:
    """(key, data, expiry) of each of these sessions still in force, in one query."""
    rows = store_class.get_model_class().objects.filter(
        session_key__in=keys, expire_date__gt=timezone.now()
    )
    decoder = store_class()
    return [(row.session_key, decoder.decode(row.session_data), row.expire_date) for row in rows]


def _users_from_db(user_ids: list[Any]) -> dict[Any, Any]:
    model = get_user_model()
    fields = [field.attname for field in model._meta.concrete_fields]
    rows = model._default_manager.filter(pk__in=user_ids).values_list(*fields)
    users = (model.from_db(DEFAULT_DB_ALIAS, fields, row) for row in rows)
    return {user.pk: user for user in users}


def _seconds_until(expiry: datetime) -> int:
    return max(0, int((expiry - timezone.now()).total_seconds()))


class Gathered:
    """One kind of read (sessions, users): the cache first, then the misses together.

    ``get(key, from_cache)`` asks the cache (``from_cache`` answers None for a miss); a
    miss joins the batch being gathered, or the database read of that key under way.
    The batch is read (``read(keys)``: a dict of what was found) once no cache read is
    still out, or ``GATHER_AT_MOST_SECONDS`` after its first miss; keys not found get
    ``default``.
    """

    def __init__(
        self,
        read: Callable[[list[Any]], Awaitable[dict[Any, Any]]],
        *,
        default: Callable[[], Any],
        name: str,
    ) -> None:
        self._read = read
        self._default = default
        self._name = name
        self._asking = 0
        self._gathering: Waiting = {}
        self._reading: Waiting = {}
        self._deadline: asyncio.TimerHandle | None = None

    async def get(self, key: Any, from_cache: Callable[[], Awaitable[Any]]) -> Any:
        future = self._joined(key)
        if future is None:
            self._asking += 1
            try:
                found = await from_cache()
                if found is not None:
                    return found
                future = self._joined(key) or self._gather(key)
            finally:
                self._asking -= 1
                if self._gathering and not self._asking:
                    self._flush()
        # Shielded: a socket that goes away while waiting must not cancel the read the
        # other sockets of its batch wait for.
        return await asyncio.shield(future)

    def _joined(self, key: Any) -> asyncio.Future[Any] | None:
        return self._gathering.get(key) or self._reading.get(key)

    def _gather(self, key: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = self._gathering[key] = loop.create_future()
        if self._deadline is None:
            self._deadline = loop.call_later(GATHER_AT_MOST_SECONDS, self._flush)
        return future

    def _flush(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        batch, self._gathering = self._gathering, {}
        if batch:
            self._reading.update(batch)
            spawn(self._run(batch), name=f"{self._name}-read")

    async def _run(self, batch: Waiting) -> None:
        try:
            found = await self._read(list(batch))
        except Exception as error:
            for future in batch.values():
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: each waiter raises its own
        else:
            for key, future in batch.items():
                if not future.done():
                    future.set_result(found[key] if key in found else self._default())
        finally:
            for key, future in batch.items():
                if self._reading.get(key) is future:
                    del self._reading[key]


class LoginReads:
    """The gathered reads of one event loop (``reads``)."""

    def __init__(self) -> None:
        self.sessions = Gathered(_sessions, default=dict, name="socket-sessions")
        self.users = Gathered(_users, default=lambda: None, name="socket-users")

    async def session(self, key: str) -> dict[str, Any]:
        """The data of the ``cached_db`` session ``key`` ({} if none is in force)."""
        session_cache = caches[settings.SESSION_CACHE_ALIAS]

        async def from_cache() -> Any:
            try:
                return await session_cache.aget(cached_db.SessionStore.cache_key_prefix + key)
            except Exception:
                return None  # as cached_db: a cache that cannot be read, then the database

        return dict(await self.sessions.get(key, from_cache))

    async def user(self, user_id: Any) -> Any:
        """The user row ``user_id`` (None if there is none), from the cache or else the
        database (then cached for RT_USER_CACHE_SECONDS; ``accounts.signals`` clears it
        when the row changes)."""
        return await self.users.get(user_id, lambda: cache.aget(user_cache_key(user_id)))


async def _sessions(keys: list[str]) -> dict[str, dict[str, Any]]:
    """These sessions from the database (those still in force), then cached."""
    store_class = cached_db.SessionStore
    rows = await database_sync_to_async(_sessions_from_db)(store_class, keys)
    if not rows:
        return {}
    # One expiry for the batch: the soonest, so none outlives its session.
    timeout = min(_seconds_until(expiry) for _key, _data, expiry in rows)
    prefix = store_class.cache_key_prefix
    await caches[settings.SESSION_CACHE_ALIAS].aset_many(
        {prefix + key: data for key, data, _expiry in rows}, timeout
    )
    return {key: data for key, data, _expiry in rows}


async def _users(user_ids: list[Any]) -> dict[Any, Any]:
    """These user rows from the database, then cached."""
    rows = await database_sync_to_async(_users_from_db)(user_ids)
    if rows:
        await cache.aset_many(
            {user_cache_key(pk): user for pk, user in rows.items()},
            settings.RT_USER_CACHE_SECONDS,
        )
    return rows


reads = PerLoop(LoginReads)
