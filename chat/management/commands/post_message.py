from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import selectors, services
from realtime.errors import ActionError


class Command(BaseCommand):
    help = "Post a message to a room as a user; open browsers see it live."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the room")
        parser.add_argument("--user", required=True, help="username of the author")
        parser.add_argument("--body", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        room = selectors.room_get(slug=options["slug"])
        if room is None:
            raise CommandError(f"no such room: {options['slug']}")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no such user: {options['user']}")
        try:
            message = services.message_post(room=room, author=user, body=options["body"])
        except ActionError as error:
            raise CommandError(error.message) from None
        self.stdout.write(self.style.SUCCESS(f"Posted message {message.pk} to '{room.slug}'"))
