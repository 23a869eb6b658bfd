from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import services


class Command(BaseCommand):
    help = "Create a chat room."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the room, e.g. 'general'")
        parser.add_argument("--title", help="display title (default: the slug)")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--retention", type=int, default=10, help="messages kept; 0 keeps all (default 10)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["retention"] < 0:
            raise CommandError("--retention must be 0 or more")
        try:
            room = services.room_create(
                slug=options["slug"],
                title=options["title"] or options["slug"],
                description=options["description"],
                retention=options["retention"],
            )
        except ValidationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            raise CommandError(f"cannot create room: {details}") from None
        self.stdout.write(self.style.SUCCESS(f"Created room '{room.slug}' ({room.title})"))
