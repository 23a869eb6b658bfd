from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from chat.models import Room
        from chat.selectors import room_cache_clear

        post_save.connect(room_cache_clear, sender=Room, dispatch_uid="chat-room-cache-save")
        post_delete.connect(room_cache_clear, sender=Room, dispatch_uid="chat-room-cache-delete")
