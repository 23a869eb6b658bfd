"""The site's ASGI entry for sockets and requests: the process's start, the client's
address, the access log, and the WebSocket handshake's origin, session and route."""

from __future__ import annotations

import logging
import time
from importlib import import_module
from typing import Any, cast

from asgiref.typing import WebSocketScope
from channels.routing import URLRouter
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import parse_cookie

from common import logs, proxies
from realtime.processes import get_process
from realtime.security import origin_allowed, refuse_handshake


class SocketEntry:
    """ASGI, for WebSockets: the origin check (``realtime.security``), the cookies, the
    login session and the route, in one coroutine and one copy of the scope.

    Channels' stack for the same (``OriginValidator``, ``CookieMiddleware``, a session
    middleware, ``URLRouter``) runs each part in a coroutine of its own, most copying the
    scope, and a socket keeps every one of those frames and copies for as long as it is
    open (docs/performance.md, issue 16, "per-socket memory"). Routes are matched as
    ``URLRouter`` matches them, from the route table it prepares.

    The consumer's scope has no headers and no cookies: nothing reads them after the
    handshake, and a socket would keep them for its whole life.

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
        session_key = _session_key(scope["headers"])
        # The headers are read only until here (the origin, the client's address, the
        # session cookie), yet the frames above this one (and this one) hold the server's
        # scope for the socket's whole life: 1.4 KB a socket. Dropped in place, as
        # common.proxies changes it; daphne's own reference goes once open (its patches).
        scope["headers"] = ()
        store = import_module(settings.SESSION_ENGINE).SessionStore
        inner = {
            **scope,
            "session": store(session_key),
            "path_remaining": remaining,
            "url_route": {"args": tuple(args), "kwargs": {**kwargs, **route.default_args}},
        }
        # A WebSocket scope with channels' additions (session, url_route; no cookies).
        return await route.callback(cast("WebSocketScope", inner), receive, send)


def _session_key(headers: Any) -> str | None:
    for name, value in headers:
        if name == b"cookie":
            return parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
    return None


class ProcessMiddleware:
    """ASGI, the site's entry: registers this process (heartbeat, janitor:
    ``realtime.processes``) at its first request of any kind (daphne has no lifespan events
    to start it at), puts the client's address in the scope of every request and socket
    (``common.proxies``), and writes the ``rtsite.access`` line of each HTTP request
    (``common.logs``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.started = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not self.started:
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
