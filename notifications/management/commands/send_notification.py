from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from notifications import services
from notifications.models import Kind, Level
from realtime.errors import ActionError


class Command(BaseCommand):
    help = (
        "Send a notification to users, a group, all users or everyone; open pages get it "
        "live (through the shared Redis, so the server may be another process)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # It always raises (CommandError, or argparse's exit); django-stubs says it returns Any.
        usage_error: Callable[[str], NoReturn] = parser.error

        def error(message: str) -> NoReturn:
            # With --json, a usage error is JSON on stdout too (exit status 2, as argparse).
            if parser.called_from_command_line and "--json" in sys.argv:
                sys.stdout.write(json.dumps({"sent": False, "error": message}) + "\n")
                sys.exit(2)
            usage_error(message)

        parser.error = error  # type: ignore[method-assign]  # this one parser's, on purpose
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        audience = parser.add_mutually_exclusive_group(required=True)
        audience.add_argument("--user", action="append", help="username, in any case (repeatable)")
        audience.add_argument("--group", help="name of a Django auth group")
        audience.add_argument("--all", action="store_true", help="every logged-in user")
        audience.add_argument(
            "--everyone", action="store_true", help="every visitor, logged in or not"
        )
        parser.add_argument("--title", required=True)
        parser.add_argument("--body", default="")
        parser.add_argument("--level", default=Level.INFO, choices=Level.values)
        parser.add_argument("--link", default="", help="a path on this site, like /chat/")
        parser.add_argument(
            "--dry-run", action="store_true", help="print the recipients; send nothing"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = self._send(options)
        except (ActionError, CommandError) as error:
            message = error.message if isinstance(error, ActionError) else str(error)
            if options["json"]:
                self.stdout.write(json.dumps({"sent": False, "error": message}))
                raise CommandError(message, returncode=1) from None
            raise CommandError(message) from None
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        verb = "Would send" if options["dry_run"] else f"Sent notification {result['id']}"
        self.stdout.write(f"{verb} to {result['recipients']} recipient(s)")
        if result["usernames"] is not None and options["dry_run"]:
            for name in result["usernames"]:
                self.stdout.write(f"  {name}")

    def _users(self, names: list[str]) -> list[Any]:
        """Users by name, in any case (signup refuses names that differ only in case);
        an exact match wins where older accounts differ only in case."""
        users = []
        for name in dict.fromkeys(names):
            found = list(get_user_model().objects.filter(username__iexact=name))
            exact = [user for user in found if user.username == name]
            if exact:
                found = exact
            if not found:
                raise CommandError(f"no such user: {name}")
            if len(found) > 1:
                raise CommandError(f"{name} matches several users; give the exact name")
            if not found[0].is_active:
                raise CommandError(f"{found[0].username} is deactivated")
            users.append(found[0])
        return users

    def _send(self, options: dict[str, Any]) -> dict[str, Any]:
        users: list[Any] = []
        group = None
        if options["user"]:
            users = self._users(options["user"])
        elif options["group"]:
            group = Group.objects.filter(name=options["group"]).first()
            if group is None:
                raise CommandError(f"no such group: {options['group']}")
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
                kind=Kind.STAFF,
            )
            if options["dry_run"]:
                # Nothing is kept, and nothing is broadcast (on_commit never runs).
                transaction.set_rollback(True)
        recipients = (
            [u.username for u in users]
            if users
            else list(group.user_set.filter(is_active=True).values_list("username", flat=True))
            if group
            else None
        )
        return {
            "sent": not options["dry_run"],
            "id": None if options["dry_run"] else notification.pk,
            "audience": notification.audience,
            "recipients": notification.recipients_count,
            "usernames": recipients,
        }
