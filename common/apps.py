from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

from common import embedded_redis


class CommonConfig(AppConfig):
    """The shared libraries (Redis, cache, database, text, logs); an app for its
    ``embedded_redis`` command and for starting the embedded Redis."""

    name = "common"
    verbose_name = "Shared libraries"

    def ready(self) -> None:
        if settings.EMBEDDED_REDIS:
            # Every process (daphne, manage.py, tests) attaches to the one shared server,
            # starting it if it is the first.
            embedded_redis.ensure_running(settings.EMBEDDED_REDIS_DIR)
