from django.urls import path

from notifications import consumers

# django-stubs types path()'s view as a Django view; channels' URLRouter takes ASGI apps.
websocket_urlpatterns = [
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),  # type: ignore[arg-type]
]
