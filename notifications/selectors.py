"""Reads of notifications: a user's inbox, unread counts, recipients."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from notifications.models import Audience, Notification, Read, Recipient


def inbox(*, user: Any) -> QuerySet[Notification]:
    """Notifications for ``user``, newest first, each annotated with ``is_read``.

    Broadcasts count only from when the account existed."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.filter(audience=Audience.EVERYONE).annotate(
            is_read=Exists(Read.objects.none())
        )
    targeted = Q(Exists(Recipient.objects.filter(notification=OuterRef("pk"), user=user)))
    broadcast = Q(
        audience__in=[Audience.ALL_USERS, Audience.EVERYONE], created_at__gte=user.date_joined
    )
    return Notification.objects.filter(targeted | broadcast).annotate(
        is_read=Exists(Read.objects.filter(notification=OuterRef("pk"), user=user))
    )


def unread_count(*, user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return inbox(user=user).filter(is_read=False).count()


def inbox_after(*, user: Any, after_id: int, limit: int) -> tuple[list[Notification], bool]:
    """Notifications newer than the cursor, oldest first, and whether more exist."""
    newer = list(inbox(user=user).filter(id__gt=after_id).order_by("id")[: limit + 1])
    return newer[:limit], len(newer) > limit


def inbox_recent(*, user: Any, limit: int) -> tuple[list[Notification], bool]:
    """The newest ``limit`` notifications, oldest first, and whether older ones exist."""
    newest = list(inbox(user=user).order_by("-id")[: limit + 1])
    return newest[:limit][::-1], len(newest) > limit
