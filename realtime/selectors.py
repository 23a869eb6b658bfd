"""Reads shared by the apps."""

from __future__ import annotations

import functools
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.utils.crypto import constant_time_compare

from common.sql import Compiled


def user_is_active(*, user: Any) -> bool:
    """Whether the account is still active now (not as it was when the socket opened)."""
    return get_user_model().objects.filter(pk=user.pk, is_active=True).exists()


@functools.cache
def _user_query() -> tuple[list[str], Compiled]:
    model = get_user_model()
    fields = [field.attname for field in model._meta.concrete_fields]
    query = Compiled(
        lambda p: model._default_manager.filter(pk=p.user).values_list(*fields), user=int
    )
    return fields, query


def _user_row(user_id: Any) -> Any:
    """The user row, by a query compiled once (the first connect after a login misses the
    cache; a storm of them paid Django's query build each)."""
    fields, query = _user_query()
    row = query.first(user=user_id)
    return None if row is None else get_user_model().from_db(DEFAULT_DB_ALIAS, fields, row)


def user_cache_key(user_id: Any) -> str:
    return f"rtsite.user.{user_id}"


async def user_cached(*, user_id: Any) -> Any:
    """The user row, from the cache or else the database (then cached for
    RT_USER_CACHE_SECONDS; ``accounts.signals`` clears it when the row changes)."""
    key = user_cache_key(user_id)
    user = await cache.aget(key)
    if user is None:
        user = await database_sync_to_async(_user_row)(user_id)
        if user is None:
            return None
        await cache.aset(key, user, settings.RT_USER_CACHE_SECONDS)
    return user


async def socket_user(*, session: SessionBase | None) -> Any:
    """Who a socket's login session belongs to, decided as ``django.contrib.auth.get_user``
    decides it (the backend, the account active, the session's password hash), with the
    session and the user read from the cache: a connect storm of logged-in sockets costs
    no query. A socket only reads the session; the HTTP side rotates or flushes it."""
    if session is None:
        return AnonymousUser()
    # A session that cannot be read (Redis away) raises: the socket is closed to be
    # retried, never taken for a visitor's (its sends would be refused as a visitor's).
    raw_id = await session.aget(SESSION_KEY)
    backend_path: str | None = await session.aget(BACKEND_SESSION_KEY)
    try:
        user_id = get_user_model()._meta.pk.to_python(raw_id)
    except ValidationError:  # an id of the wrong shape
        return AnonymousUser()
    if (
        user_id is None
        or backend_path is None
        or backend_path not in settings.AUTHENTICATION_BACKENDS
    ):
        return AnonymousUser()
    backend = load_backend(backend_path)
    if not isinstance(backend, ModelBackend):  # another backend's idea of a user: its own
        user = await database_sync_to_async(backend.get_user)(user_id)
    else:
        user = await user_cached(user_id=user_id)
        if user is not None and not backend.user_can_authenticate(user):
            user = None
    if user is None:
        return AnonymousUser()
    session_hash = await session.aget(HASH_SESSION_KEY)
    if not session_hash:
        return AnonymousUser()
    if constant_time_compare(session_hash, user.get_session_auth_hash()) or any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    ):
        return user
    return AnonymousUser()
