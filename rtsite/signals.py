"""Accounts → open sockets: a logout or a deactivation closes them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rtsite import services


def on_logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        services.sockets_close(session_key=session_key)


def on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        services.sockets_close(user_id=instance.pk)


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    services.sockets_close(user_id=instance.pk)
