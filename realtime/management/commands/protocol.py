"""``manage.py protocol``: write what is generated from the frame declarations
(``realtime.protocol_docs``); ``--check`` only says whether it is out of date."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from realtime import protocol_docs


class Command(BaseCommand):
    help = "Write static/realtime/protocol.js and docs/protocol.md's frame tables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="fail if out of date")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            stale = protocol_docs.out_of_date()
            if stale:
                names = ", ".join(str(p.relative_to(protocol_docs.ROOT)) for p in stale)
                raise CommandError(f"out of date: {names} (run manage.py protocol)")
            self.stdout.write("generated files are up to date")
            return
        for path in protocol_docs.write():
            self.stdout.write(f"wrote {path.relative_to(protocol_docs.ROOT)}")
