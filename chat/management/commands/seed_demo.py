from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chat.models import Room

DEMO_PASSWORD = "rtsite-demo"  # noqa: S105 - printed on purpose: local demo accounts
DEMO_USERS = [("alice", False), ("bob", False), ("carol", False), ("admin", True)]
DEMO_ROOMS = [
    ("general", "General", "Anything goes."),
    ("random", "Random", "Off-topic chatter."),
    ("help", "Help", "Questions about rtsite."),
]


class Command(BaseCommand):
    help = "Create demo rooms and accounts (idempotent) and print the credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()  # noqa: N806
        for slug, title, description in DEMO_ROOMS:
            Room.objects.get_or_create(
                slug=slug, defaults={"title": title, "description": description}
            )
        self.stdout.write(f"Demo accounts (password for each: {DEMO_PASSWORD}):")
        for username, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff, "is_superuser": staff}
            )
            if created or not user.email:
                if created:
                    user.set_password(DEMO_PASSWORD)
                # An address for the digests `make run` writes to var/mail/.
                user.email = user.email or f"{username}@example.com"
                user.save()
            self.stdout.write(f"  {username}{'  (staff, /admin/)' if staff else ''}")
        self.stdout.write(f"Rooms: {', '.join(slug for slug, _, _ in DEMO_ROOMS)}")
