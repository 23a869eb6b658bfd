"""Reads shared by the apps."""

from __future__ import annotations

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
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare

from realtime import logins


def user_is_active(*, user: Any) -> bool:
    """Whether the account is still active now (not as it was when the socket opened)."""
    return get_user_model().objects.filter(pk=user.pk, is_active=True).exists()


async def socket_user(*, session: SessionBase | None) -> Any:
    """Who a socket's login session belongs to, decided as ``django.contrib.auth.get_user``
    decides it (the backend, the account active, the session's password hash), with the
    session and the user read from the cache, for all the sockets connecting at that
    moment at once (``realtime.logins``): a connect storm of logged-in sockets costs no
    query, and one on a cold cache a query per batch. A socket only reads the session;
    the HTTP side rotates or flushes it."""
    if session is None:
        return AnonymousUser()
    # A session that cannot be read (Redis away) raises: the socket is closed to be
    # retried, never taken for a visitor's (its sends would be refused as a visitor's).
    if type(session) is cached_db.SessionStore:
        if session.session_key is None:  # no cookie, or not a session key's shape
            return AnonymousUser()
        # Read with the other sockets connecting now (``realtime.logins``), then kept
        # where the store keeps what it loaded, so reading it again costs nothing.
        # (``_session_cache`` is where SessionBase keeps a loaded session; not in its stubs.)
        data = await logins.reads.get().session(session.session_key)
        session._session_cache = data  # type: ignore[attr-defined]
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
        user = await logins.reads.get().user(user_id)
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
