from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from chat import services
from chat.models import Role


class Command(BaseCommand):
    help = "Create a chat room."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the room, e.g. 'general'")
        parser.add_argument("--title", help="display title (default: the slug)")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--private", action="store_true", help="only its members see it (others get a 404)"
        )
        parser.add_argument(
            "--member", action="append", default=[], metavar="USER", help="a member (repeatable)"
        )
        parser.add_argument(
            "--owner",
            action="append",
            default=[],
            metavar="USER",
            help="an owner, who manages the room on the site (repeatable)",
        )
        parser.add_argument(
            "--group", metavar="NAME", help="members of this Django group are members too"
        )
        add_retention_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        retention, retention_days = retention_options(options)
        group = None
        if options["group"]:
            group = Group.objects.filter(name=options["group"]).first()
            if group is None:
                raise CommandError(f"no group called {options['group']!r}")
        people = [(name, Role.OWNER) for name in options["owner"]]
        people += [(name, Role.MEMBER) for name in options["member"]]
        users = {}
        for name, _role in people:
            users[name] = get_user_model().objects.filter(username=name, is_active=True).first()
            if users[name] is None:
                raise CommandError(f"no active user called {name!r}")
        try:
            with transaction.atomic():
                room = services.room_create(
                    slug=options["slug"],
                    title=options["title"] or options["slug"],
                    description=options["description"],
                    retention=retention,
                    retention_days=retention_days,
                    private=options["private"],
                    group=group,
                )
                for name, role in people:
                    services.member_add(room=room, user=users[name], role=role)
        except ValidationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            raise CommandError(f"cannot create room: {details}") from None
        policy = room.retention_summary or "This room keeps everything."
        kind = "private room" if room.private else "room"
        self.stdout.write(
            self.style.SUCCESS(f"Created {kind} '{room.slug}' ({room.title}). {policy}")
        )
        if people:
            self.stdout.write(f"Members: {', '.join(f'{n} ({r})' for n, r in people)}.")
        if room.private and not options["owner"]:
            self.stdout.write(
                "No owner: staff manage its members in the admin, or with"
                f" 'manage.py room_members {room.slug} --add USER --role owner'."
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
