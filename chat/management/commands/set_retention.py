from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import selectors, services
from chat.management.commands.create_room import add_retention_arguments, retention_options


class Command(BaseCommand):
    help = (
        "Set a room's retention policy and apply it now. With neither option the room"
        " keeps everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the room")
        add_retention_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        room = selectors.room_get(slug=options["slug"])
        if room is None:
            raise CommandError(f"no such room: {options['slug']}")
        retention, retention_days = retention_options(options)
        try:
            removed = services.room_set_retention(
                room=room, retention=retention, retention_days=retention_days
            )
        except ValidationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            raise CommandError(f"cannot set retention: {details}") from None
        policy = room.retention_summary or "This room keeps everything."
        self.stdout.write(self.style.SUCCESS(f"{room.slug}: {policy} Removed {removed}."))
