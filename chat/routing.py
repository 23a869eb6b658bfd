from django.urls import path, re_path

from chat import consumers

websocket_urlpatterns = [
    path("ws/chat/", consumers.RoomListConsumer.as_asgi()),
    re_path(r"^ws/chat/(?P<slug>[-a-zA-Z0-9_]{1,64})/$", consumers.ChatRoomConsumer.as_asgi()),
]
