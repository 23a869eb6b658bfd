from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class RtsiteConfig(AppConfig):
    name = "rtsite"
    verbose_name = "Real-time plumbing"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import post_delete, post_init, post_save

        from rtsite import signals

        user_logged_in.connect(signals.on_logged_in, dispatch_uid="rtsite-login")
        user_logged_out.connect(signals.on_logged_out, dispatch_uid="rtsite-logout")
        user_model = get_user_model()
        post_init.connect(signals.on_user_loaded, sender=user_model, dispatch_uid="rtsite-load")
        post_save.connect(signals.on_user_saved, sender=user_model, dispatch_uid="rtsite-user")
        post_delete.connect(signals.on_user_deleted, sender=user_model, dispatch_uid="rtsite-del")
        if settings.EMBEDDED_REDIS:
            # Every process (daphne, manage.py, tests) attaches to the one shared server,
            # starting it if it is the first.
            from rtsite import embedded_redis

            embedded_redis.ensure_running(settings.EMBEDDED_REDIS_DIR)
