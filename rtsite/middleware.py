"""Request middleware of the site."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from rtsite import services

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
