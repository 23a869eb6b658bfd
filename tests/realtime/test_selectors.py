"""Who a socket is (``realtime.selectors.socket_user``): decided as Django decides it for a
request, read from the cache."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from realtime import selectors
from tests.conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def _session(cookie: str) -> Any:
    key = cookie.split("=", 1)[1]
    return import_module(settings.SESSION_ENGINE).SessionStore(key)


async def _who(cookie: str) -> Any:
    return await selectors.socket_user(session=_session(cookie))


async def test_the_logged_in_user_then_from_the_cache(make_user: Callable[..., Any]) -> None:
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(user)
    assert (await _who(cookie)).pk == user.pk
    # The row is cached now: a change that skips signals (a bulk update) is not seen ...
    await database_sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(
        first_name="Bulk"
    )
    assert (await _who(cookie)).first_name == ""
    # ... a save is, at once.
    user.first_name = "Saved"
    await database_sync_to_async(user.save)()
    assert (await _who(cookie)).first_name == "Saved"


async def test_no_session_or_a_stranger_is_anonymous() -> None:
    assert isinstance(await selectors.socket_user(session=None), AnonymousUser)
    assert isinstance(await _who("sessionid=not-a-session"), AnonymousUser)


async def test_deactivated_or_password_changed_is_anonymous(
    make_user: Callable[..., Any],
) -> None:
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(user)
    assert (await _who(cookie)).is_authenticated  # cached now
    user.set_password("another-password-for-tests")
    await database_sync_to_async(user.save)()
    assert isinstance(await _who(cookie), AnonymousUser)

    other = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(other)
    assert (await _who(cookie)).is_authenticated
    other.is_active = False
    await database_sync_to_async(other.save)()
    assert isinstance(await _who(cookie), AnonymousUser)


async def test_the_session_is_read_from_the_cache(make_user: Callable[..., Any]) -> None:
    """Sessions are cached_db: once written, a socket reads them from Redis (with the row
    gone from the table behind the cache's back, the socket still knows who it is)."""
    from django.contrib.sessions.models import Session

    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(user)
    key = cookie.split("=", 1)[1]
    await database_sync_to_async(Session.objects.filter(session_key=key).delete)()
    assert (await _who(cookie)).pk == user.pk
