"""The accounts' request middleware: the login and signup limits, and the request in
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
from django.utils.http import urlencode

from accounts import logins, selectors
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


# URL names of the login views, whose POSTs are refused while their account or address
# has too many failures, and of the signup view, whose POSTs are counted per address.
_LOGIN_VIEWS = {"login", "admin:login"}
_SIGNUP_VIEWS = {"signup"}

_LOCK_REASONS = {
    "account": "Too many failed attempts for this account.",
    "address": "Too many failed login attempts from your network.",
}


def _too_many(request: HttpRequest, reason: str, seconds: int, back: str) -> HttpResponse:
    """The 429 page: why, when to try again, and the way back to the form (the address
    of the POST, with the page the form was to lead to: the login form posts ``next``
    as a field). ``back`` names the form, for the link's words."""
    path = request.get_full_path()
    next_page = request.POST.get("next", "")
    if next_page and "?" not in path:
        path += "?" + urlencode({"next": next_page})
    context = {"reason": reason, "minutes": logins.minutes(seconds), "back": path, "back_to": back}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


class AuthThrottleMiddleware:
    """Logins refused while the account tried or the client's address has too many
    failed logins (counted by ``accounts.services`` from Django's login signals, in
    Redis); signups counted per client address in a fixed window in the shared cache
    (Redis): a signup flood succeeds at every try. Over a limit the POST gets 429 with
    Retry-After and is not handled."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        name = match.view_name if match else ""
        if request.method != "POST":
            return None
        if name in _LOGIN_VIEWS:
            return self._login(request)
        if name in _SIGNUP_VIEWS:
            return self._signup(request)
        return None

    def _login(self, request: HttpRequest) -> HttpResponse | None:
        lock = selectors.login_lock(
            username=request.POST.get("username", ""),
            address=request.META.get("REMOTE_ADDR", ""),
        )
        if lock is None:
            return None
        return _too_many(request, _LOCK_REASONS[lock.scope], lock.seconds, "login")

    def _signup(self, request: HttpRequest) -> HttpResponse | None:
        limit, window = settings.AUTH_THROTTLE["signup"]
        now = time.time()
        key = f"throttle:signup:{request.META.get('REMOTE_ADDR', '')}:{int(now // window)}"
        try:
            cache.add(key, 0, timeout=window)
            attempts = cache.incr(key)
        except Exception:  # the cache is away: let people in rather than lock them out
            logger.warning("signup throttle unavailable; allowing", exc_info=True)
            return None
        if attempts <= limit:
            return None
        return _too_many(
            request,
            "Too many sign-ups from your network.",
            int(window - now % window) + 1,
            "signup",
        )
