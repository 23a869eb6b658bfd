"""Email each user what they missed: one pass (a systemd timer runs it every minute), or
``--loop`` for a process of its own. Safe to run twice at once: each notification is
claimed before its email goes (notifications/digests.py)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications import digests

# Claims older than this, neither confirmed nor released, are reported.
UNCONFIRMED_AFTER = timedelta(hours=1)


class Command(BaseCommand):
    help = (
        "Email each user a digest of the mentions, direct messages and staff notifications"
        " still unread after NOTIFICATIONS_EMAIL_DELAY_SECONDS; one pass unless --loop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop",
            action="store_true",
            help="pass again every NOTIFICATIONS_EMAIL_LOOP_SECONDS until stopped",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        if not options["loop"]:
            if not self._pass():
                raise CommandError("stopped early: the next pass sends what this one could not")
            return
        while True:
            self._pass()
            time.sleep(settings.NOTIFICATIONS_EMAIL_LOOP_SECONDS)

    def _pass(self) -> bool:
        result = digests.digests_send()
        if result.sent or self.verbosity > 1:
            noun = "email" if result.sent == 1 else "emails"
            self.stdout.write(f"sent {result.sent} digest {noun} ({result.items} notifications)")
        if result.failed:
            self.stderr.write(result.failed)
        unconfirmed = digests.digests_unconfirmed(older_than=UNCONFIRMED_AFTER)
        if unconfirmed:
            self.stderr.write(
                f"{unconfirmed} notifications were claimed for an email that may not have"
                " been sent (a sender stopped while sending); they are not retried"
            )
        return not result.stopped
