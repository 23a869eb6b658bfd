from django.urls import path, re_path

from chat import consumers

# django-stubs types path()'s view as a Django view; channels' URLRouter takes ASGI apps.
websocket_urlpatterns = [
    path("ws/chat/", consumers.RoomListConsumer.as_asgi()),  # type: ignore[arg-type]
    re_path(r"^ws/chat/(?P<slug>[-a-zA-Z0-9_]{1,64})/$", consumers.ChatRoomConsumer.as_asgi()),  # type: ignore[arg-type]
]
