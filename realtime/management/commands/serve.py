"""`make serve`: every core of a host, one listening socket, a process manager
(``realtime.server.serve``)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from realtime.server import serve


class Command(BaseCommand):
    help = "Serve the site on every core: N daphne workers on one socket, under supervisor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--max-frame", type=int, default=None, help="daphne's frame limit (RT_MAX_FRAME_BYTES)"
        )
        parser.add_argument(
            "--restart", action="store_true", help="restart a running serve's workers one by one"
        )
        parser.add_argument(
            "--config-only", action="store_true", help="write supervisord.conf and print it"
        )
        parser.add_argument(
            "--watchdog",
            action="store_true",
            help="(run by supervisor) kill a worker whose heartbeat stopped, to restart it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["restart"]:
                serve.rolling_restart(self.stdout.write)
            elif options["watchdog"]:
                serve.watch(self.stdout.write)
            elif options["config_only"]:
                self.stdout.write(
                    serve.write_config(
                        workers=options["workers"],
                        host=options["host"],
                        port=options["port"],
                        max_frame=options["max_frame"] or settings.RT_MAX_FRAME_BYTES,
                    )
                )
            else:
                serve.start(
                    workers=options["workers"],
                    host=options["host"],
                    port=options["port"],
                    max_frame=options["max_frame"] or settings.RT_MAX_FRAME_BYTES,
                    say=self.stdout.write,
                )
        except serve.ServeError as error:
            raise CommandError(str(error)) from None
