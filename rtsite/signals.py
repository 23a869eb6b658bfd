"""Accounts → open sockets: a logout, a password change or a deactivation closes them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rtsite import accounts, middleware, services

# The password hash a user object was loaded with, to tell a password change on save.
_LOADED_PASSWORD = "_rtsite_loaded_password"  # noqa: S105 - an attribute name


def on_logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        services.session_name(session)


def on_logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    session = services.session_id(getattr(request, "session", None))
    if session:
        services.sockets_close(session=session)


def on_user_loaded(sender: Any, instance: Any, **kwargs: Any) -> None:
    # __dict__, not the attribute: a user loaded with the password deferred stays so.
    setattr(instance, _LOADED_PASSWORD, instance.__dict__.get("password"))


def on_user_saved(
    sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    if update_fields is None or "username" in update_fields:
        accounts.account_name_sync(user=instance)
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
    services.sockets_close(user_id=instance.pk, reason="account deleted")
