"""Notifications: one row per notification, per-user rows only where they are needed.

A notification to named users or a group stores one ``Recipient`` row per user. A
notification to all users or to everyone stores none: a send to 10,000 users is a single
insert, and the inbox finds it by audience. Read state is a ``Read`` row written when
a user reads one (or marks all read).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Level(models.TextChoices):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class Audience(models.TextChoices):
    USERS = "users", "chosen users"
    GROUP = "group", "a group"
    ALL_USERS = "all_users", "all logged-in users"
    EVERYONE = "everyone", "everyone, visitors included"


class Kind(models.TextChoices):
    """What a notification is about: email digests and their preferences go by it."""

    MENTION = "mention", "mentions"
    DIRECT = "direct", "direct messages"
    STAFF = "staff", "notifications from staff"
    OTHER = "other", "other notifications"


# The kinds that may be emailed, in the order settings and emails list them.
EMAILED_KINDS = (Kind.MENTION, Kind.DIRECT, Kind.STAFF)


# The longest link a notification stores (services check it before saving).
LINK_MAX = 500


class Notification(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=2000, blank=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    link = models.CharField(max_length=LINK_MAX, blank=True)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    group = models.ForeignKey(
        "auth.Group", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    recipients_count = models.PositiveIntegerField(default=0)
    # Repeats from one sender to one recipient ("alice mentioned you") fold into one
    # unread notification per window: the key names the kind and the sender, the count
    # says how many were folded in.
    fold_key = models.CharField(max_length=100, blank=True, default="")
    fold_count = models.PositiveIntegerField(default=1)
    # What the notification shows, when that can change or go ("chat.message:<id>": a
    # mention shows the message's text): it follows it (``notification_follow``).
    subject = models.CharField(max_length=100, blank=True, default="", editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OTHER)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The digest sender's scan: recent notifications of the kinds it emails.
            models.Index(
                fields=["created_at"],
                name="notify_email_kinds",
                condition=models.Q(kind__in=[str(kind) for kind in EMAILED_KINDS]),
            ),
            models.Index(
                fields=["fold_key", "created_at"],
                name="notify_fold",
                condition=~models.Q(fold_key=""),
            ),
            models.Index(
                fields=["subject"], name="notify_subject", condition=~models.Q(subject="")
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Recipient(models.Model):
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="recipients"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="notify_recipient_once")
        ]
        indexes = [models.Index(fields=["user", "notification"], name="notify_recipient_user")]

    def __str__(self) -> str:
        return f"{self.notification_id} to {self.user_id}"


class Read(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="notify_read_once")
        ]
        indexes = [models.Index(fields=["user", "notification"], name="notify_read_user")]

    def __str__(self) -> str:
        return f"{self.notification_id} read by {self.user_id}"


class EmailPreference(models.Model):
    """Which kinds a user wants emailed when they miss them. No row: every kind (the
    defaults); the fields are named after the kinds (``Kind`` values)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="email_preference",
    )
    mention = models.BooleanField("mentions", default=True)
    direct = models.BooleanField("direct messages", default=True)
    staff = models.BooleanField("notifications from staff", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"email preferences of {self.user_id}"

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, kind, False))


class EmailDelivery(models.Model):
    """A notification taken into one user's digest email: the row is the claim (its
    uniqueness makes two senders' claims exclusive), ``sent_at`` says the mail server took
    the email. A claim whose send failed is deleted, so the next pass tries again."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="email_deliveries"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # One pass's claim on one user's digest: what it confirms or releases.
    attempt = models.CharField(max_length=32)
    claimed_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="notify_email_once")
        ]
        indexes = [models.Index(fields=["attempt"], name="notify_email_attempt")]

    def __str__(self) -> str:
        return f"{self.notification_id} emailed to {self.user_id}"
