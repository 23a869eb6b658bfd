from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Deliberately here, as Django's documentation has it: the signal handlers reach
        # models, which cannot be imported before the app registry is ready.
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import post_delete, post_init, post_save

        from accounts import signals

        user_logged_in.connect(signals.on_logged_in, dispatch_uid="rtsite-login")
        user_logged_out.connect(signals.on_logged_out, dispatch_uid="rtsite-logout")
        user_login_failed.connect(signals.on_login_failed, dispatch_uid="rtsite-login-failed")
        user_model = get_user_model()
        post_init.connect(signals.on_user_loaded, sender=user_model, dispatch_uid="rtsite-load")
        post_save.connect(signals.on_user_saved, sender=user_model, dispatch_uid="rtsite-user")
        post_delete.connect(signals.on_user_deleted, sender=user_model, dispatch_uid="rtsite-del")
