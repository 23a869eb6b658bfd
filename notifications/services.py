"""Every change to notifications, and the broadcast that goes with it.

The admin, ``manage.py send_notification`` and chat mentions all send through
``notification_send``; delivery to open sockets happens after the transaction commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http.request import validate_host
from django.utils import timezone

from common.text import clean_required, clean_text
from notifications import protocol, selectors, tokens
from notifications.models import (
    EMAILED_KINDS,
    LINK_MAX,
    Audience,
    EmailDelivery,
    EmailPreference,
    Kind,
    Level,
    Notification,
    Read,
    Recipient,
)
from realtime.broadcast import publish_on_commit
from realtime.errors import ActionError, ErrorCode

TITLE_MAX = 200
BODY_MAX = 2000


def is_site_path(link: str) -> bool:
    """A path on this site: one leading ``/`` (``//host`` and ``/\\host`` are other
    sites to a browser), no white space, control characters or backslashes."""
    return (
        0 < len(link) <= LINK_MAX
        and link.startswith("/")
        and not link.startswith("//")
        and not any(char.isspace() or char == "\\" or ord(char) < 32 for char in link)
    )


def _checked_link(link: str) -> str:
    """The link as stored: a path on this site, or "".

    An absolute URL is taken only if it is http(s) on a host this site answers to
    (ALLOWED_HOSTS, any port), and is stored as its path: a link then always leads to
    the site that shows it, whatever name or port the reader reached it by."""
    link = link.strip()
    if not link:
        return ""
    if len(link) > LINK_MAX:
        raise ActionError(ErrorCode.TOO_LARGE, f"A link can be at most {LINK_MAX} characters long.")
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
    except ValueError:
        raise ActionError(ErrorCode.INVALID, "The link is not a valid web address.") from None
    if parts.scheme or parts.netloc:
        if (
            parts.scheme not in ("http", "https")
            or parts.username is not None
            or not validate_host(host, settings.ALLOWED_HOSTS)
        ):
            raise ActionError(
                ErrorCode.INVALID, "The link must be a page on this site, like /chat/."
            )
        link = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if not is_site_path(link):
        raise ActionError(ErrorCode.INVALID, "The link must be a page on this site, like /chat/.")
    return link


def notification_clean(*, title: str, body: str, level: str, link: str) -> dict[str, str]:
    """The checks every send passes, also run by the admin form before it saves."""
    title = clean_required(title, multiline=False)
    body = clean_text(body).strip()
    if not title:
        raise ActionError(ErrorCode.INVALID, "A notification needs a title.")
    if len(title) > TITLE_MAX or len(body) > BODY_MAX:
        raise ActionError(
            ErrorCode.TOO_LARGE,
            f"The title can be at most {TITLE_MAX} characters long and the text at most"
            f" {BODY_MAX}.",
        )
    if level not in Level.values:
        raise ActionError(ErrorCode.INVALID, f"The level must be one of {', '.join(Level.values)}.")
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
    fold_key: str = "",
    subject: str = "",
    kind: str = Kind.OTHER,
) -> Notification:
    """Store a notification for exactly one audience and deliver it live on commit.
    ``subject`` names what it shows, if that can change (``notification_follow``);
    ``kind`` what it is about (which kinds are emailed, and to whom, go by it)."""
    if kind not in Kind.values:
        raise ActionError(ErrorCode.INVALID, f"The kind must be one of {', '.join(Kind.values)}.")
    users = list(users)
    if any(not user.is_active for user in users):
        raise ActionError(ErrorCode.INVALID, "Deactivated users cannot be notified.")
    audiences = [bool(users), group is not None, to_all_users, to_everyone]
    if sum(audiences) != 1:
        raise ActionError(
            ErrorCode.INVALID, "Choose exactly one audience: users, a group, all users or everyone."
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
            fold_key=fold_key,
            subject=subject,
            kind=kind,
        )
        if audience == Audience.USERS:
            Recipient.objects.bulk_create(
                [Recipient(notification=notification, user=user) for user in users],
                ignore_conflicts=True,
            )
            notification.recipients_count = len({user.pk for user in users})
        elif group is not None:  # the audience is GROUP
            members = list(group.user_set.filter(is_active=True).values_list("pk", flat=True))
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
        # No one, if its group was deleted since (SET_NULL).
        group_id = notification.group_id
        targets = [] if group_id is None else [protocol.members_group(group_id)]
    elif notification.audience == Audience.ALL_USERS:
        targets = [protocol.GROUP_USERS]
    else:
        targets = [protocol.GROUP_EVERYONE]
    frame = protocol.NewNotification.of(notification, again=again)
    publish_on_commit(targets, frame, cursor=notification.pk)


def notification_membership_changed(*, user_ids: Iterable[int]) -> None:
    """Users joined or left auth groups: once that commits, their open sockets follow
    their groups (and catch up on what a new group was sent meanwhile)."""
    targets = [protocol.user_group(pk) for pk in dict.fromkeys(user_ids)]
    if targets:
        publish_on_commit(targets, {}, event=protocol.EVENT_MEMBERSHIP)


def times(n: int) -> str:
    """The ' 12 times' of a folded notification's title ("" for one)."""
    return "" if n == 1 else f" {n} times"


def notification_fold(
    *,
    key: str,
    user: Any,
    title: Callable[[int], str],
    body: str,
    link: str,
    created_by: Any,
    subject: str = "",
    kind: str = Kind.OTHER,
) -> Notification:
    """A notification to ``user`` that folds into the unread one with the same ``key``
    sent within NOTIFICATIONS_FOLD_SECONDS: repeats (a flood of mentions or invitations
    from one sender) make one notification whose title counts them, never one each.
    ``title(n)`` is the title for n folded repeats. It shows the latest repeat's body,
    link and ``subject``. One already taken into an email is not folded into: what comes
    after it is news for the next email."""
    since = timezone.now() - timedelta(seconds=settings.NOTIFICATIONS_FOLD_SECONDS)
    with transaction.atomic():
        earlier = (
            Notification.objects.select_for_update(of=("self",))
            .filter(
                Exists(Recipient.objects.filter(notification=OuterRef("pk"), user=user)),
                ~Exists(Read.objects.filter(notification=OuterRef("pk"), user=user)),
                ~Exists(EmailDelivery.objects.filter(notification=OuterRef("pk"))),
                fold_key=key,
                audience=Audience.USERS,
                created_at__gte=since,
            )
            .order_by("-id")
            .first()
        )
        if earlier is None:
            return notification_send(
                title=title(1),
                body=body,
                link=link,
                users=[user],
                created_by=created_by,
                fold_key=key,
                subject=subject,
                kind=kind,
            )
        fields = notification_clean(
            title=title(earlier.fold_count + 1), body=body, level=earlier.level, link=link
        )
        earlier.fold_count += 1
        earlier.title, earlier.body, earlier.link = fields["title"], fields["body"], fields["link"]
        earlier.subject = subject
        earlier.save(update_fields=["fold_count", "title", "body", "link", "subject"])
        publish_on_commit(
            protocol.user_group(user.pk),
            protocol.NewNotification.of(earlier, update=True),
            cursor=earlier.pk,
        )
    return earlier


def notification_follow(*, subjects: Iterable[str], body: str, keep_for: Iterable[int] = ()) -> int:
    """The notifications showing these subjects (a chat message, edited or deleted) show
    ``body`` now: text taken back by its author must not stay in anyone's inbox. Their
    recipients' open pages replace them quietly (nothing new to announce). Those of the
    users ``keep_for`` (ids) stay as they are. Returns how many changed."""
    subjects = [subject for subject in subjects if subject]
    if not subjects:
        return 0
    body = clean_text(body).strip()[:BODY_MAX]
    with transaction.atomic():
        changed = list(
            Notification.objects.select_for_update()
            .filter(subject__in=subjects)
            .exclude(body=body)
            .exclude(recipients__user_id__in=list(keep_for))
        )
        if not changed:
            return 0
        for notification in changed:
            notification.body = body
        Notification.objects.bulk_update(changed, ["body"])
        recipients = Recipient.objects.filter(notification__in=changed)
        read = set(
            Read.objects.filter(notification__in=changed).values_list("notification_id", "user_id")
        )
        by_id = {notification.pk: notification for notification in changed}
        for notification_id, user_id in recipients.values_list("notification_id", "user_id"):
            notification = by_id[notification_id]
            publish_on_commit(
                protocol.user_group(user_id),
                protocol.NewNotification.of(
                    notification,
                    update=True,
                    quiet=True,
                    read=(notification_id, user_id) in read,
                ),
                cursor=notification.pk,
            )
    return len(changed)


def notification_resend(*, notification: Notification) -> None:
    """Deliver a stored notification to its audience's open sockets again."""
    _publish(notification, notification.recipients.values_list("user_id", flat=True), again=True)


def _publish_read(user: Any, ids: list[int]) -> None:
    """Every tab of the user drops these from its badge, toasts and inbox."""
    publish_on_commit(
        protocol.user_group(user.pk),
        protocol.Read(ids=ids, unread=selectors.unread_count(user=user)),
    )


def _mark(user: Any, ids: list[int]) -> list[int]:
    with transaction.atomic():
        Read.objects.bulk_create(
            [Read(notification_id=pk, user=user) for pk in ids], ignore_conflicts=True
        )
        if ids:
            _publish_read(user, ids)
    return ids


def notification_read_subjects(*, seen: Mapping[int, Iterable[str]]) -> dict[int, list[int]]:
    """Users saw these subjects where they are ({user id: subjects}: a reader scrolled past
    the chat messages that mentioned them): their unread notifications showing them are
    read now, in every tab. One query finds them and one insert marks them, however many
    readers a batch holds. Returns {user id: notification ids marked}."""
    wanted = {(user_id, subject) for user_id, subjects in seen.items() for subject in subjects}
    if not wanted:
        return {}
    marked: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        unread = (
            Recipient.objects.filter(
                user_id__in={user_id for user_id, _ in wanted},
                notification__subject__in={subject for _, subject in wanted},
            )
            .filter(
                ~Exists(
                    Read.objects.filter(
                        notification=OuterRef("notification"), user=OuterRef("user")
                    )
                )
            )
            .values_list("user_id", "notification_id", "notification__subject")
        )
        for user_id, notification_id, subject in unread:
            if (user_id, subject) in wanted:
                marked[user_id].append(notification_id)
        if not marked:
            return {}
        Read.objects.bulk_create(
            [Read(notification_id=pk, user_id=uid) for uid, ids in marked.items() for pk in ids],
            ignore_conflicts=True,
        )
        for user in get_user_model().objects.filter(pk__in=marked):
            _publish_read(user, sorted(marked[user.pk]))
    return dict(marked)


def notification_mark_read(*, user: Any, notification_id: int) -> list[int]:
    """Mark one of the user's notifications read; every tab of theirs is told."""
    found = selectors.inbox(user=user).filter(pk=notification_id).first()
    if found is None:
        raise ActionError(ErrorCode.NOT_FOUND, "That notification no longer exists.")
    return [] if found.is_read else _mark(user, [found.pk])


def notification_mark_all_read(*, user: Any) -> list[int]:
    unread = selectors.inbox(user=user).filter(is_read=False).values_list("pk", flat=True)
    return _mark(user, list(unread))


def notification_forget_subjects(*, subjects: Mapping[int, Iterable[str]]) -> int:
    """Users who may no longer see these subjects ({user id: subjects}: the messages of a
    private room they left) lose the notifications showing them: marked read in every
    tab at once, and gone from their inbox (the notification itself goes with its last
    recipient). Returns how many recipients went."""
    wanted = {(user_id, subject) for user_id, items in subjects.items() for subject in items}
    if not wanted:
        return 0
    with transaction.atomic():
        rows = Recipient.objects.filter(
            user_id__in={user_id for user_id, _ in wanted},
            notification__subject__in={subject for _, subject in wanted},
        ).values_list("pk", "user_id", "notification_id", "notification__subject")
        gone: dict[int, list[int]] = defaultdict(list)
        ids = []
        for pk, user_id, notification_id, subject in rows:
            if (user_id, subject) in wanted:
                ids.append(pk)
                gone[user_id].append(notification_id)
        Recipient.objects.filter(pk__in=ids).delete()
        notification_ids = {pk for pks in gone.values() for pk in pks}
        Notification.objects.filter(pk__in=notification_ids, recipients__isnull=True).delete()
        for user in get_user_model().objects.filter(pk__in=gone):
            _publish_read(user, sorted(gone[user.pk]))
    return len(ids)


# ---------------------------------------------------------------- email preferences


def email_preference_set(*, user: Any, wanted: Mapping[str, bool]) -> EmailPreference:
    """Turn emails of some kinds on or off for ``user`` (kinds not named keep theirs)."""
    unknown = set(wanted) - set(EMAILED_KINDS)
    if unknown:
        raise ActionError(ErrorCode.INVALID, "There are no emails of that kind.")
    with transaction.atomic():
        preference, _ = EmailPreference.objects.select_for_update().get_or_create(user=user)
        for kind, on in wanted.items():
            setattr(preference, kind, bool(on))
        preference.save()
    return preference


def email_unsubscribe(*, token: str) -> tuple[Any, tuple[str, ...]]:
    """An unsubscribe link followed: the emails of the kinds it names stop for its user.
    Returns the user and the kinds. A token this site did not sign, or for an account
    that is gone, changes nothing."""
    found = tokens.unsubscribe_read(token)
    user = None
    if found is not None:
        user = get_user_model().objects.filter(pk=found.user_id).first()
    if found is None or user is None:
        raise ActionError(ErrorCode.INVALID, "This unsubscribe link is not valid.")
    email_preference_set(user=user, wanted=dict.fromkeys(found.kinds, False))
    return user, found.kinds
