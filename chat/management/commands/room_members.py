from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import selectors, services
from chat.models import Role


class Command(BaseCommand):
    help = (
        "List, add or remove a room's members (live on open pages: a removed member's"
        " pages of a private room close)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the room's slug")
        parser.add_argument(
            "--add", action="append", default=[], metavar="USER", help="add (repeatable)"
        )
        parser.add_argument(
            "--role",
            choices=[role.value for role in Role],
            default=Role.MEMBER,
            help="the role of those added, or given to those named by --add (default member)",
        )
        parser.add_argument(
            "--remove", action="append", default=[], metavar="USER", help="remove (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        room = selectors.room_get(slug=options["slug"])
        if room is None:
            raise CommandError(f"no room called {options['slug']!r}")
        for name in options["add"]:
            services.member_add(room=room, user=self._user(name), role=options["role"])
            self.stdout.write(f"Added {name} as {options['role']}.")
        for name in options["remove"]:
            if services.member_remove(room=room, user=self._user(name)):
                self.stdout.write(f"Removed {name}.")
            else:
                self.stdout.write(f"{name} stays a member through the group {room.group}.")
        members, count = selectors.room_members(room=room, limit=10_000)
        kind = "private" if room.private else "public"
        self.stdout.write(f"{room.slug} ({kind}): {count} member(s)")
        for member in members:
            through = " (through the group)" if member.through_group else ""
            self.stdout.write(f"  {member.username}: {member.role}{through}")

    def _user(self, name: str) -> Any:
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"no user called {name!r}")
        return user
