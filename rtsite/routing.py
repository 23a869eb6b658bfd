"""Every WebSocket route of the site, all under /ws/."""

from __future__ import annotations

from django.urls import re_path

from chat.routing import websocket_urlpatterns as chat_urlpatterns
from game.routing import websocket_urlpatterns as game_urlpatterns
from notifications.routing import websocket_urlpatterns as notification_urlpatterns
from realtime.consumers import NotFoundConsumer

# django-stubs types path()'s view as a Django view; channels' URLRouter takes ASGI apps.
websocket_urlpatterns = [
    *chat_urlpatterns,
    *notification_urlpatterns,
    *game_urlpatterns,
    re_path(r"", NotFoundConsumer.as_asgi()),  # type: ignore[arg-type]
]
