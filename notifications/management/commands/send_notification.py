from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from notifications import services
from notifications.models import Level
from rtsite.errors import ActionError


class Command(BaseCommand):
    help = (
        "Send a notification to users, a group, all users or everyone; open pages get it "
        "live (through the shared Redis, so the server may be another process)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        audience = parser.add_mutually_exclusive_group(required=True)
        audience.add_argument("--user", action="append", help="username (repeatable)")
        audience.add_argument("--group", help="name of a Django auth group")
        audience.add_argument("--all", action="store_true", help="every logged-in user")
        audience.add_argument(
            "--everyone", action="store_true", help="every visitor, logged in or not"
        )
        parser.add_argument("--title", required=True)
        parser.add_argument("--body", default="")
        parser.add_argument("--level", default=Level.INFO, choices=Level.values)
        parser.add_argument("--link", default="", help="a relative URL, or one on this site")
        parser.add_argument(
            "--dry-run", action="store_true", help="print the recipients; send nothing"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, **options: Any) -> None:
        users: list[Any] = []
        group = None
        if options["user"]:
            wanted = list(dict.fromkeys(options["user"]))
            found = {u.username: u for u in get_user_model().objects.filter(username__in=wanted)}
            missing = [name for name in wanted if name not in found]
            if missing:
                raise CommandError(f"no such user: {', '.join(missing)}")
            users = [found[name] for name in wanted]
        elif options["group"]:
            group = Group.objects.filter(name=options["group"]).first()
            if group is None:
                raise CommandError(f"no such group: {options['group']}")
        try:
            with transaction.atomic():
                notification = services.notification_send(
                    title=options["title"],
                    body=options["body"],
                    level=options["level"],
                    link=options["link"],
                    users=users,
                    group=group,
                    to_all_users=options["all"],
                    to_everyone=options["everyone"],
                )
                if options["dry_run"]:
                    # Nothing is kept, and nothing is broadcast (on_commit never runs).
                    transaction.set_rollback(True)
        except ActionError as error:
            raise CommandError(error.message) from None
        recipients = (
            [u.username for u in users]
            if users
            else list(group.user_set.values_list("username", flat=True))
            if group
            else None
        )
        result = {
            "sent": not options["dry_run"],
            "id": None if options["dry_run"] else notification.pk,
            "audience": notification.audience,
            "recipients": notification.recipients_count,
            "usernames": recipients,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        verb = "Would send" if options["dry_run"] else f"Sent notification {notification.pk}"
        self.stdout.write(f"{verb} to {notification.recipients_count} recipient(s)")
        if recipients is not None and options["dry_run"]:
            for name in recipients:
                self.stdout.write(f"  {name}")
