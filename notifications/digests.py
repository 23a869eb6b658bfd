"""Email for what people missed: the digest sender's writes (``manage.py send_digests``).

A pass finds the users with a notification unread for NOTIFICATIONS_EMAIL_DELAY_SECONDS
of a kind they want emailed, and sends each one email: that notification and every other
unread one not emailed yet (a digest, never an email per notification).

Never twice: a user's notifications are claimed before the email is sent, by inserting
one ``EmailDelivery`` row each under a unique (notification, user) constraint, in a
transaction of its own; two senders racing insert the same rows and only one wins each
(PostgreSQL's ON CONFLICT waits for the other's commit; SQLite writes one at a time).
Then the email is sent, and the claim is confirmed (``sent_at``). If the mail server
refuses or cannot be reached, the claim is deleted and the next pass tries again. If the
process dies after the server took the email and before the confirmation, the claim
stays unconfirmed and is never retried: at most once (docs/decisions.md, "Email digests").
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from notifications import selectors, tokens
from notifications.models import EMAILED_KINDS, EmailDelivery, Kind, Notification

log = logging.getLogger(__name__)

# Users read per query of a pass.
BATCH = 100
# Messages refused one after another that stop a pass (the server refuses everything).
FAILURES_IN_A_ROW = 3


class NotTaken(smtplib.SMTPException):
    """The backend says it sent nothing, without an error of the server's."""


# A refusal of one message (its recipient, its content): the pass goes on. Any other
# OSError (smtplib's errors are OSErrors) is the server, or the site's mail settings:
# the pass stops at once.
MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, NotTaken)


@dataclass
class PassResult:
    sent: int = 0  # emails the mail server took
    items: int = 0  # notifications in them
    failed: str = ""  # the last send that failed, and why ("" if none did)
    stopped: bool = False  # the pass gave up: the mail server is down or refuses all


def absolute(path: str) -> str:
    """A path on this site as a link in an email (SITE_URL in front)."""
    return f"{settings.SITE_URL}{path}"


def listed(words: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 2 else words)


def digest_claim(*, user: Any, now: datetime) -> tuple[str, list[Notification]]:
    """Claim the user's notifications for one email: (the claim's id, the notifications
    this claim won, oldest first; none when nothing of theirs is due). Due: at least one
    waited NOTIFICATIONS_EMAIL_DELAY_SECONDS; the others come along."""
    attempt = uuid.uuid4().hex
    since = now - timedelta(seconds=settings.NOTIFICATIONS_EMAIL_MAX_AGE_SECONDS)
    due = now - timedelta(seconds=settings.NOTIFICATIONS_EMAIL_DELAY_SECONDS)
    with transaction.atomic():
        pending = list(selectors.email_pending(user=user, since=since).order_by("id"))
        if not any(notification.created_at <= due for notification in pending):
            return attempt, []
        EmailDelivery.objects.bulk_create(
            [EmailDelivery(notification=n, user=user, attempt=attempt) for n in pending],
            ignore_conflicts=True,
        )
        won = set(
            EmailDelivery.objects.filter(attempt=attempt).values_list("notification_id", flat=True)
        )
    return attempt, [notification for notification in pending if notification.pk in won]


def digest_release(*, attempt: str) -> int:
    """A claim whose email was not sent: its notifications are free for the next pass."""
    deleted, _ = EmailDelivery.objects.filter(attempt=attempt, sent_at__isnull=True).delete()
    return deleted


def digest_confirm(*, attempt: str, now: datetime) -> int:
    return EmailDelivery.objects.filter(attempt=attempt).update(sent_at=now)


def digest_message(*, user: Any, notifications: list[Notification]) -> EmailMultiAlternatives:
    """The digest email: plain text and HTML, links to each notification's page, and a
    one-click unsubscribe (RFC 8058) from the kinds it holds."""
    kinds = [kind for kind in EMAILED_KINDS if any(n.kind == kind for n in notifications)]
    token = tokens.unsubscribe_token(user_id=user.pk, kinds=kinds)
    unsubscribe_url = absolute(reverse("notifications:unsubscribe", args=[token]))
    shown = notifications[-settings.NOTIFICATIONS_EMAIL_ITEMS_MAX :]
    # "alice mentioned you 3 times" is three things missed.
    count = sum(n.fold_count for n in notifications)
    subject = f"{count} thing{'' if count == 1 else 's'} you missed on {settings.SITE_NAME}"
    context = {
        "user": user,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "subject": subject,
        "items": [
            {
                "title": n.title,
                "body": n.body,
                "url": absolute(n.link or reverse("notifications:inbox")),
                "when": n.created_at,
            }
            for n in reversed(shown)  # newest first, as the inbox
        ],
        "more": len(notifications) - len(shown),
        "inbox_url": absolute(reverse("notifications:inbox")),
        "settings_url": absolute(reverse("notifications:settings")),
        "unsubscribe_url": unsubscribe_url,
        "kinds": listed([str(Kind(kind).label) for kind in kinds]),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email/digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # An automatic message: no out-of-office replies to it (RFC 3834).
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(
        render_to_string("notifications/email/digest.html", context), "text/html"
    )
    return message


def digests_send(*, now: datetime | None = None) -> PassResult:
    """One pass: every digest due now, over one connection to the mail server. A send
    that fails releases its claim, so the next pass tries again. A message refused (an
    address the server does not take) holds nobody else's mail up: the pass goes on,
    unless FAILURES_IN_A_ROW are refused in a row. A server that cannot be reached, or
    refuses the site's login or sender, stops the pass at once."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.NOTIFICATIONS_EMAIL_MAX_AGE_SECONDS)
    due = now - timedelta(seconds=settings.NOTIFICATIONS_EMAIL_DELAY_SECONDS)
    result = PassResult()
    after_id = 0
    in_a_row = 0
    connection = get_connection(fail_silently=False)
    try:
        while True:
            users = selectors.email_due_users(since=since, due=due, after_id=after_id, limit=BATCH)
            if not users:
                return result
            for user in users:
                after_id = user.pk
                attempt, claimed = digest_claim(user=user, now=now)
                if not claimed:
                    continue  # another sender took them, or nothing of theirs is due yet
                try:
                    connection.open()  # once: later calls find it open
                    message = digest_message(user=user, notifications=claimed)
                    if connection.send_messages([message]) != 1:
                        raise NotTaken("the mail server took no message")
                except MESSAGE_REFUSED as error:
                    digest_release(attempt=attempt)
                    log.warning("digest to user %s refused, to retry: %s", user.pk, error)
                    result.failed = f"the mail server refused a digest: {error}"
                    connection.close()  # in whatever state the refusal left it
                    in_a_row += 1
                    if in_a_row >= FAILURES_IN_A_ROW:
                        result.stopped = True
                        return result
                    continue
                except OSError as error:
                    digest_release(attempt=attempt)
                    log.warning("digests stopped, the mail server failed: %s", error)
                    result.failed = f"the mail server cannot be used: {error}"
                    result.stopped = True
                    return result
                except BaseException:
                    digest_release(attempt=attempt)  # a bug, or the pass interrupted
                    raise
                in_a_row = 0
                digest_confirm(attempt=attempt, now=timezone.now())
                result.sent += 1
                result.items += len(claimed)
    finally:
        connection.close()


def digests_unconfirmed(*, older_than: timedelta) -> int:
    """Claims neither confirmed nor released (a sender died while sending), made between
    twice ``older_than`` and ``older_than`` ago: their emails may or may not have gone,
    and are not tried again. For the command to report (each for a while, not for ever)."""
    now = timezone.now()
    return EmailDelivery.objects.filter(
        sent_at__isnull=True, claimed_at__range=(now - 2 * older_than, now - older_than)
    ).count()
