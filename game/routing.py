from django.urls import path

from game import consumers

websocket_urlpatterns = [
    path("ws/game/lobby/", consumers.LobbyConsumer.as_asgi()),
    path("ws/game/<int:game_id>/", consumers.GameConsumer.as_asgi()),
    path("ws/game/arena/<int:arena_id>/", consumers.ArenaConsumer.as_asgi()),
]
