from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from common import embedded_redis


class Command(BaseCommand):
    help = "Start or stop the embedded Redis server shared by the project's processes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop"])

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.EMBEDDED_REDIS:
            raise CommandError("REDIS_URL is set: the embedded server is not in use")
        directory = settings.EMBEDDED_REDIS_DIR
        action = options["action"]
        if action == "start":
            embedded_redis.ensure_running(directory)
            self.stdout.write(f"running at {embedded_redis.url(directory)}")
        else:
            stopped = embedded_redis.stop(directory)
            self.stdout.write("stopped" if stopped else "was not running")
