from django.urls import path

from game import consumers

# django-stubs types path()'s view as a Django view; channels' URLRouter takes ASGI apps.
websocket_urlpatterns = [
    path("ws/game/lobby/", consumers.LobbyConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/game/<int:game_id>/", consumers.GameConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/game/arena/<int:arena_id>/", consumers.ArenaConsumer.as_asgi()),  # type: ignore[arg-type]
]
