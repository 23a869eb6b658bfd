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
        add_retention_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        retention, retention_days = retention_options(options)
        try:
            room = services.room_create(
                slug=options["slug"],
                title=options["title"] or options["slug"],
                description=options["description"],
                retention=retention,
                retention_days=retention_days,
            )
        except ValidationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            raise CommandError(f"cannot create room: {details}") from None
        policy = room.retention_summary or "This room keeps everything."
        self.stdout.write(
            self.style.SUCCESS(f"Created room '{room.slug}' ({room.title}). {policy}")
        )


def add_retention_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--keep-newest",
        "--retention",
        dest="keep_newest",
        type=int,
        default=0,
        metavar="N",
        help="keep only the newest N messages (default 0: no limit on the count)",
    )
    parser.add_argument(
        "--keep-days",
        type=int,
        default=0,
        metavar="D",
        help="delete messages older than D days (default 0: no limit on age)",
    )


def retention_options(options: dict[str, Any]) -> tuple[int, int]:
    for name in ("keep_newest", "keep_days"):
        if options[name] < 0:
            raise CommandError(f"retention: --{name.replace('_', '-')} must be 0 or more")
    return options["keep_newest"], options["keep_days"]
