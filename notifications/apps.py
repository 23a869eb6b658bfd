from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed

        from notifications import signals

        m2m_changed.connect(
            signals.on_groups_changed,
            sender=get_user_model().groups.through,
            dispatch_uid="notifications-membership",
        )
