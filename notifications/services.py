"""Every change to notifications, and the broadcast that goes with it.

The admin, ``manage.py send_notification`` and chat mentions all send through
``notification_send``; delivery to open sockets happens after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.http import url_has_allowed_host_and_scheme

from notifications import protocol, selectors
from notifications.models import Audience, Level, Notification, Read, Recipient
from rtsite.errors import ActionError, ErrorCode
from rtsite.realtime import publish_on_commit

TITLE_MAX = 200
BODY_MAX = 2000


def group_name_for(group_id: int) -> str:
    return f"notify.group.{group_id}"


def _checked_link(link: str) -> str:
    link = link.strip()
    if not link:
        return ""
    # Relative links, or absolute ones to this site only: never javascript: or elsewhere.
    if link.startswith("//") or not url_has_allowed_host_and_scheme(
        link, allowed_hosts=set(settings.ALLOWED_HOSTS), require_https=False
    ):
        raise ActionError(ErrorCode.INVALID, "link must be a relative URL or one on this site")
    return link


def notification_clean(*, title: str, body: str, level: str, link: str) -> dict[str, str]:
    """The checks every send passes, also run by the admin form before it saves."""
    title = title.strip()
    if not title:
        raise ActionError(ErrorCode.INVALID, "a notification needs a title")
    if len(title) > TITLE_MAX or len(body) > BODY_MAX:
        raise ActionError(
            ErrorCode.TOO_LARGE, f"title at most {TITLE_MAX}, body at most {BODY_MAX} characters"
        )
    if level not in Level.values:
        raise ActionError(ErrorCode.INVALID, f"level must be one of {', '.join(Level.values)}")
    return {"title": title, "body": body, "level": level, "link": _checked_link(link)}


def notification_send(
    *,
    title: str,
    body: str = "",
    level: str = Level.INFO,
    link: str = "",
    users: Iterable[Any] = (),
    group: Group | None = None,
    to_all_users: bool = False,
    to_everyone: bool = False,
    created_by: Any = None,
) -> Notification:
    """Store a notification for exactly one audience and deliver it live on commit."""
    users = list(users)
    audiences = [bool(users), group is not None, to_all_users, to_everyone]
    if sum(audiences) != 1:
        raise ActionError(
            ErrorCode.INVALID, "choose exactly one audience: users, a group, all users or everyone"
        )
    fields = notification_clean(title=title, body=body, level=level, link=link)
    audience = [Audience.USERS, Audience.GROUP, Audience.ALL_USERS, Audience.EVERYONE][
        audiences.index(True)
    ]
    with transaction.atomic():
        notification = Notification.objects.create(
            **fields,
            audience=audience,
            group=group,
            created_by=created_by,
        )
        if audience == Audience.USERS:
            Recipient.objects.bulk_create(
                [Recipient(notification=notification, user=user) for user in users],
                ignore_conflicts=True,
            )
            notification.recipients_count = len({user.pk for user in users})
        elif audience == Audience.GROUP:
            members = list(group.user_set.values_list("pk", flat=True))
            Recipient.objects.bulk_create(
                [Recipient(notification=notification, user_id=pk) for pk in members],
                batch_size=1000,
            )
            notification.recipients_count = len(members)
        else:
            notification.recipients_count = get_user_model().objects.filter(is_active=True).count()
        notification.save(update_fields=["recipients_count"])
        _publish(notification, [user.pk for user in users])
    return notification


def _publish(notification: Notification, user_ids: Iterable[int], *, again: bool = False) -> None:
    if notification.audience == Audience.USERS:
        targets = [protocol.user_group(pk) for pk in dict.fromkeys(user_ids)]
    elif notification.audience == Audience.GROUP:
        targets = [group_name_for(notification.group_id)]
    elif notification.audience == Audience.ALL_USERS:
        targets = [protocol.GROUP_USERS]
    else:
        targets = [protocol.GROUP_EVERYONE]
    frame = protocol.notification_frame(notification, again=again)
    publish_on_commit(targets, protocol.EVENT_NOTIFICATION, frame, cursor=notification.pk)


def notification_resend(*, notification: Notification) -> None:
    """Deliver a stored notification to its audience's open sockets again."""
    _publish(notification, notification.recipients.values_list("user_id", flat=True), again=True)


def _mark(user: Any, ids: list[int]) -> list[int]:
    with transaction.atomic():
        Read.objects.bulk_create(
            [Read(notification_id=pk, user=user) for pk in ids], ignore_conflicts=True
        )
        if ids:
            publish_on_commit(
                protocol.user_group(user.pk),
                protocol.EVENT_READ,
                protocol.read_frame(ids, selectors.unread_count(user=user)),
            )
    return ids


def notification_mark_read(*, user: Any, notification_id: int) -> list[int]:
    """Mark one of the user's notifications read; every tab of theirs is told."""
    found = selectors.inbox(user=user).filter(pk=notification_id).first()
    if found is None:
        raise ActionError(ErrorCode.NOT_FOUND, "no such notification")
    return [] if found.is_read else _mark(user, [found.pk])  # type: ignore[attr-defined]


def notification_mark_all_read(*, user: Any) -> list[int]:
    unread = selectors.inbox(user=user).filter(is_read=False).values_list("pk", flat=True)
    return _mark(user, list(unread))
