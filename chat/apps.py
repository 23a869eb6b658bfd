from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from chat.models import Attachment, Room
        from chat.selectors import room_cache_clear
        from chat.services.attachments import attachment_deleted
        from chat.signals import user_groups_changed

        post_save.connect(room_cache_clear, sender=Room, dispatch_uid="chat-room-cache-save")
        post_delete.connect(room_cache_clear, sender=Room, dispatch_uid="chat-room-cache-delete")
        # However an attachment's row goes (a cascade too), its files go after commit.
        post_delete.connect(
            attachment_deleted, sender=Attachment, dispatch_uid="chat-attachment-files"
        )
        m2m_changed.connect(
            user_groups_changed,
            sender=get_user_model().groups.through,
            dispatch_uid="chat-user-groups",
        )
