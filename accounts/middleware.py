"""The accounts' request middleware: the login and signup throttle, and the request in
progress for the account signals."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from realtime import services

logger = logging.getLogger(__name__)

# The request being handled, for the account signals: a user who changes their own
# password keeps this request's login session's sockets.
_current_request: ContextVar[HttpRequest | None] = ContextVar(
    "rtsite_current_request", default=None
)


def current_session_of(user_id: int) -> str | None:
    """The login session id of the request in progress, if it is ``user_id``'s."""
    request = _current_request.get()
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk != user_id:
        return None
    return services.session_id(getattr(request, "session", None))


class CurrentRequestMiddleware:
    """Makes the request in progress known to ``current_session_of``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


# URL names of the views whose POSTs are throttled per client address, by kind.
_THROTTLED_VIEWS = {"login": "login", "admin:login": "login", "signup": "signup"}


class AuthThrottleMiddleware:
    """Login and signup attempts per client address, in a fixed window, counted in the
    shared cache (Redis) so every process sees the same count. Over the limit the POST
    gets 429 with Retry-After and is not handled. Counted are attempts, not only
    failures: a signup flood succeeds at every try."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        kind = _THROTTLED_VIEWS.get(match.view_name if match else "")
        if request.method != "POST" or kind is None:
            return None
        limit, window = settings.AUTH_THROTTLE[kind]
        now = time.time()
        key = f"throttle:{kind}:{request.META.get('REMOTE_ADDR', '')}:{int(now // window)}"
        try:
            cache.add(key, 0, timeout=window)
            attempts = cache.incr(key)
        except Exception:  # the cache is away: let people in rather than lock them out
            logger.warning("auth throttle unavailable; allowing", exc_info=True)
            return None
        if attempts <= limit:
            return None
        retry_after = int(window - now % window) + 1
        response = render(
            request,
            "429.html",
            {"kind": kind, "minutes": max(1, round(retry_after / 60))},
            status=429,
        )
        response["Retry-After"] = str(retry_after)
        return response
