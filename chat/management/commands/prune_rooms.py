from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import selectors, services


class Command(BaseCommand):
    help = (
        "Delete the messages each room's retention policy no longer keeps (posting prunes"
        " by count as it goes; run this daily for rooms that keep messages for D days),"
        " with their files, and uploads never sent older than CHAT_UPLOAD_PENDING_HOURS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--room", action="append", help="slug of a room (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        rooms = list(selectors.room_all())
        if options["room"]:
            wanted = set(options["room"])
            rooms = [room for room in rooms if room.slug in wanted]
            missing = wanted - {room.slug for room in rooms}
            if missing:
                raise CommandError(f"no such room: {', '.join(sorted(missing))}")
        total = 0
        for room in rooms:
            removed = services.room_prune(room=room)
            total += removed
            policy = room.retention_summary or "This room keeps everything."
            self.stdout.write(f"{room.slug}: removed {removed}. {policy}")
        self.stdout.write(self.style.SUCCESS(f"Removed {total} message(s)."))
        unsent = services.attachment_prune_pending()
        self.stdout.write(f"Removed {unsent} upload(s) never sent.")
