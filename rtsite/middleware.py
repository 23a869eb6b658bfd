"""Request middleware of the site."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from importlib import import_module
from typing import Any, cast

from asgiref.typing import WebSocketScope
from channels.routing import URLRouter
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, parse_cookie
from django.shortcuts import render

from rtsite import logs, metrics, proxies, services
from rtsite.security import origin_allowed, refuse_handshake

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


class RequestMetricsMiddleware:
    """HTTP requests by view and status, and their time by view (``rtsite.metrics``). The
    view is its URL name (``chat:room``): a bounded set, unlike paths."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or "unnamed") if match is not None else "unmatched"
        metrics.HTTP_REQUESTS.labels(view, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(view).observe(time.monotonic() - started)
        return response


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


class SocketEntry:
    """ASGI, for WebSockets: the origin check (``rtsite.security``), the cookies, the
    login session and the route, in one coroutine and one copy of the scope.

    Channels' stack for the same (``OriginValidator``, ``CookieMiddleware``, a session
    middleware, ``URLRouter``) runs each part in a coroutine of its own, most copying the
    scope, and a socket keeps every one of those frames and copies for as long as it is
    open (docs/performance.md, issue 16, "per-socket memory"). Routes are matched as
    ``URLRouter`` matches them, from the route table it prepares.

    The session is there for reading who the user is. Channels' ``SessionMiddleware``
    also wraps the socket's ``send`` to save a modified session with an HTTP response; a
    socket never sends one, yet the wrapper asks the session whether it was modified or
    is empty on every frame (a sixth of the server's time when it fans out arena ticks).
    Sockets here never change the session (logging in and out are HTTP requests), so
    ``send`` is left alone. The store loads the session when it is first read (the
    consumer's connect, after the handshake is accepted).
    """

    def __init__(self, routes: list[Any]) -> None:
        prepared = URLRouter(routes).routes
        if any(isinstance(route, URLRouter) for route in prepared):
            raise ImproperlyConfigured("SocketEntry matches a flat route table (rtsite/routing.py)")
        self.routes = [route for route in prepared if not isinstance(route, URLRouter)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("SocketEntry is for WebSocket connections only")
        if not origin_allowed(scope):
            return await refuse_handshake(receive, send)
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path:
            if not path.startswith(root_path):
                raise ValueError(f"No route found for path {path!r}.")
            path = path[len(root_path) :]
        path = path.lstrip("/")
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                break
        else:
            raise ValueError(f"No route found for path {path!r}.")
        remaining, args, kwargs = match
        cookies: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin1"))
                break
        store = import_module(settings.SESSION_ENGINE).SessionStore
        inner = {
            **scope,
            "cookies": cookies,
            "session": store(cookies.get(settings.SESSION_COOKIE_NAME)),
            "path_remaining": remaining,
            "url_route": {"args": tuple(args), "kwargs": {**kwargs, **route.default_args}},
        }
        # A WebSocket scope with channels' additions (cookies, session, url_route).
        return await route.callback(cast("WebSocketScope", inner), receive, send)


class ProcessMiddleware:
    """ASGI, the site's entry: registers this process (heartbeat, janitor:
    ``rtsite.processes``) at its first request of any kind (daphne has no lifespan events
    to start it at), puts the client's address in the scope of every request and socket
    (``rtsite.proxies``), and writes the ``rtsite.access`` line of each HTTP request
    (``rtsite.logs``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.started = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not self.started:
            from rtsite.processes import get_process

            get_process().start()
            self.started = True
        proxies.settle_client(scope)
        if scope["type"] != "http" or not settings.ACCESS_LOG:
            return await self.inner(scope, receive, send)
        started = time.monotonic()
        status = 0

        async def send_noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            return await self.inner(scope, receive, send_noting_status)
        finally:
            # Probes and scrapes come every few seconds: not worth a line each.
            level = logging.DEBUG if scope["path"].startswith(QUIET_PATHS) else logging.INFO
            client = logs.client_of(scope)
            logs.access.log(
                level,
                '%s "%s %s" %s %.1fms',
                client,
                scope["method"],
                scope["path"],
                status,
                (time.monotonic() - started) * 1000,
                extra={"client": client, "status": status},
            )


QUIET_PATHS = ("/healthz", "/metrics", "/static/")
