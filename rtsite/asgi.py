"""ASGI entry point: HTTP through Django, WebSockets (all under /ws/) through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtsite.settings")

# Django must be set up before anything imports models.
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime import (  # noqa: E402
    layercheck,
    metrics,
    processes,
)
from realtime.middleware import ProcessMiddleware, SocketEntry  # noqa: E402
from realtime.server import admission, drain, patches, rebalance  # noqa: E402
from rtsite.routing import websocket_urlpatterns  # noqa: E402

# Before daphne builds its factory (it does once the application is loaded).
patches.install(
    direct_writes=settings.RT_DIRECT_WRITES,
    send_limit=settings.RT_MAX_SEND_BUFFER_BYTES,
    handshake_gate=admission.queue.retry_after,
)
metrics.SERVER_PATCHES.set(patches.installed())
# SIGTERM drains the sockets instead of dropping them; the heartbeat starts with the
# server (under daphne).
drain.install()
processes.start_with_server()
rebalance.start_with_server()
# Under `make serve`: workers that died before this one started leave no live gauges.
metrics.forget_dead_workers()
# Refuse to start beside processes that use another channel layer configuration.
layercheck.check_or_refuse()

application = ProcessMiddleware(
    ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(django_http) if settings.SERVE_STATIC else django_http,
            # The origin, the session (read only) and the route in one step: the
            # consumers read the user after accepting the handshake (realtime.consumers).
            "websocket": SocketEntry(websocket_urlpatterns),
        }
    )
)
