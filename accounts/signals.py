"""Accounts → open sockets: a logout, a password change or a deactivation closes them."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from accounts import middleware
from accounts import services as account_services
from realtime import logins, services

logger = logging.getLogger(__name__)

# The password hash a user object was loaded with, to tell a password change on save.
_LOADED_PASSWORD = "_rtsite_loaded_password"  # noqa: S105 - an attribute name


def on_logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        services.session_name(session)
    account_services.login_failures_clear(username=user.get_username())


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A wrong name or password on a login form (site or admin): counted against the
    account tried and the client's address (``AuthThrottleMiddleware`` refuses more)."""
    if request is None:  # authenticate() called outside a request: nothing to count by
        return
    account_services.login_failure_record(
        username=str(credentials.get(get_user_model().USERNAME_FIELD, "")),
        address=request.META.get("REMOTE_ADDR", ""),
    )


def on_logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    session = services.session_id(getattr(request, "session", None))
    if session:
        services.sockets_close(session=session)


def on_user_loaded(sender: Any, instance: Any, **kwargs: Any) -> None:
    # __dict__, not the attribute: a user loaded with the password deferred stays so.
    setattr(instance, _LOADED_PASSWORD, instance.__dict__.get("password"))


def _forget_cached(user_id: Any) -> None:
    """Drop the user row sockets read from the cache (``realtime.logins``): now, and
    again at commit, in case a socket read the row meanwhile and cached the old one."""
    key = logins.user_cache_key(user_id)

    def forget() -> None:
        try:
            cache.delete(key)
        except Exception:  # Redis away: the entry expires (RT_USER_CACHE_SECONDS)
            logger.warning("could not clear the cached user %s", user_id, exc_info=True)

    forget()
    transaction.on_commit(forget)


def on_user_saved(
    sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    _forget_cached(instance.pk)
    if update_fields is None or "username" in update_fields:
        account_services.account_name_sync(user=instance)
    loaded = getattr(instance, _LOADED_PASSWORD, None)
    password = instance.__dict__.get("password")
    setattr(instance, _LOADED_PASSWORD, password)
    if created:
        return
    if not instance.is_active:
        services.sockets_close(user_id=instance.pk, reason="account deactivated")
    elif loaded is not None and password is not None and password != loaded:
        # Django logs the other sessions out (their auth hash no longer matches); their
        # sockets go too. The session that changed it (a user's own change) stays.
        services.sockets_close(
            user_id=instance.pk,
            reason="password changed",
            keep_session=middleware.current_session_of(instance.pk),
        )


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _forget_cached(instance.pk)
    services.sockets_close(user_id=instance.pk, reason="account deleted")
