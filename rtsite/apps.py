from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class RtsiteConfig(AppConfig):
    name = "rtsite"
    verbose_name = "Real-time plumbing"

    def ready(self) -> None:
        if getattr(settings, "EMBEDDED_REDIS", False):
            # Every process (daphne, manage.py, tests) attaches to the one shared server,
            # starting it if it is the first.
            from rtsite import embedded_redis

            embedded_redis.ensure_running(settings.VAR_DIR / "redis")
