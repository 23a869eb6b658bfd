"""Reads of notifications: a user's inbox, unread counts, recipients."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet

from notifications.models import (
    EMAILED_KINDS,
    Audience,
    EmailDelivery,
    EmailPreference,
    Notification,
    Read,
    Recipient,
)

if TYPE_CHECKING:
    # django-stubs-ext is a development requirement (with django-stubs), so the site
    # never imports it: these names exist for the checker only.
    from django_stubs_ext import WithAnnotations

    class InboxAnnotations(TypedDict):
        is_read: bool

    # A notification as the inbox reads it: with ``is_read`` for the reader.
    InboxNotification = WithAnnotations[Notification, InboxAnnotations]


def inbox(*, user: Any) -> QuerySet[InboxNotification]:
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


def inbox_state(*, user: Any) -> tuple[int, int]:
    """The unread count and the newest id of the inbox, read in one statement.

    A sync reads a count and a list; a notification committed between two reads would be
    in one and not the other, and then counted twice once it arrives live. So the count
    is read first, with the id it reaches, and the list is cut at that id: anything newer
    comes live (or in the next sync) and is counted then."""
    state = inbox(user=user).aggregate(
        unread=Count("pk", filter=Q(is_read=False)), top=Max("pk", default=0)
    )
    unread = state["unread"] if getattr(user, "is_authenticated", False) else 0
    return unread, state["top"]


def inbox_after(
    *, user: Any, after_id: int, limit: int, upto: int | None = None
) -> tuple[list[Notification], bool]:
    """Notifications newer than the cursor (up to ``upto``), oldest first, and whether
    more exist."""
    newer = inbox(user=user).filter(id__gt=after_id)
    if upto is not None:
        newer = newer.filter(id__lte=upto)
    # As plain notifications: what the protocol's frames take (they read ``is_read``).
    found: list[Notification] = list(newer.order_by("id")[: limit + 1])
    return found[:limit], len(found) > limit


def resume_floor(*, after_id: int) -> int:
    """Where a resume from the cursor ``after_id`` reads after: below every notification
    created within NOTIFICATIONS_RESUME_OVERLAP_SECONDS before the cursor's. Two processes
    notifying one user at one moment each publish after their own commit, so a page can
    get id n+1 before n, and a resume from n+1 alone would skip n for good. Two short
    index walks down from the cursor."""
    ids = Notification.objects.filter(pk__lte=after_id).order_by("-pk")
    anchor = ids.values_list("created_at", flat=True).first()
    if anchor is None:
        return after_id
    since = anchor - timedelta(seconds=settings.NOTIFICATIONS_RESUME_OVERLAP_SECONDS)
    return ids.filter(created_at__lt=since).values_list("pk", flat=True).first() or 0


def inbox_recent(
    *, user: Any, limit: int, upto: int | None = None
) -> tuple[list[Notification], bool]:
    """The newest ``limit`` notifications (up to ``upto``), oldest first, and whether
    older ones exist."""
    recent = inbox(user=user)
    if upto is not None:
        recent = recent.filter(id__lte=upto)
    newest: list[Notification] = list(recent.order_by("-id")[: limit + 1])  # as above
    return newest[:limit][::-1], len(newest) > limit


# ---------------------------------------------------------------- email digests


def email_preference(*, user: Any) -> EmailPreference:
    """The user's email preferences (the defaults, unsaved, when they chose none)."""
    found = EmailPreference.objects.filter(user=user).first()
    return found or EmailPreference(user=user)


def email_pending(*, user: Any, since: datetime) -> QuerySet[InboxNotification]:
    """The user's unread notifications since ``since`` that their preferences let be
    emailed and that no digest has taken yet (their own sends aside)."""
    preference = email_preference(user=user)
    kinds = [str(kind) for kind in EMAILED_KINDS if preference.wants(kind)]
    return (
        inbox(user=user)
        .filter(is_read=False, kind__in=kinds, created_at__gte=since)
        .exclude(created_by=user)
        .exclude(Exists(EmailDelivery.objects.filter(notification=OuterRef("pk"), user=user)))
    )


def email_due_users(*, since: datetime, due: datetime, after_id: int, limit: int) -> list[Any]:
    """Up to ``limit`` users (by id, after ``after_id``) with an email address and a
    notification to email that came between ``since`` and ``due``: a digest is due.

    The same rules as ``email_pending``, for many users in one query: a notification
    counts for a user if it names them (a recipient row) or is a broadcast from after
    they joined, is unread and untaken by them, and is of a kind they did not turn off."""
    user = OuterRef(OuterRef("pk"))
    kind_wanted = Q()
    for kind in EMAILED_KINDS:
        kind_wanted |= Q(kind=kind) & ~Q(
            Exists(EmailPreference.objects.filter(user=user, **{str(kind): False}))
        )
    addressed = Q(Exists(Recipient.objects.filter(notification=OuterRef("pk"), user=user))) | Q(
        audience__in=[Audience.ALL_USERS, Audience.EVERYONE],
        created_at__gte=OuterRef("date_joined"),
    )
    waiting = (
        Notification.objects.filter(kind_wanted, addressed, created_at__range=(since, due))
        .exclude(created_by=OuterRef("pk"))
        .exclude(Exists(Read.objects.filter(notification=OuterRef("pk"), user=user)))
        .exclude(Exists(EmailDelivery.objects.filter(notification=OuterRef("pk"), user=user)))
    )
    users = (
        get_user_model()
        .objects.filter(is_active=True, pk__gt=after_id)
        .exclude(email="")
        .filter(Exists(waiting))
        .order_by("pk")
    )
    return list(users[:limit])
