from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models
from django.db.models.functions import Length, Lower, Now
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse

from common.text import clean_required, clean_text

DESCRIPTION_MAX = 1000
RETENTION_MAX = 100_000
RETENTION_DAYS_MAX = 36_500


class Room(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    # TextField's max_length is only a form hint; the validator and the check enforce it.
    description = models.TextField(
        max_length=DESCRIPTION_MAX, blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)]
    )
    # Retention: both 0 keeps everything (the default); either or both may prune.
    retention = models.PositiveIntegerField(
        "keep the newest",
        default=0,
        validators=[MaxValueValidator(RETENTION_MAX)],
        help_text=(
            f"Keep only the newest N messages (at most {RETENTION_MAX:,}); older ones are"
            " deleted. 0: no limit on the count."
        ),
    )
    retention_days = models.PositiveIntegerField(
        "keep for days",
        default=0,
        validators=[MaxValueValidator(RETENTION_DAYS_MAX)],
        help_text="Delete messages older than D days. 0: no limit on age.",
    )
    # The room's change counter: every new message, edit, reaction and deletion takes the
    # next value (under the room's row lock, so in commit order). Sockets resume from it.
    seq = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            # /chat/OPS-ROOM/ beside /chat/ops-room/ would be two rooms that read the same.
            models.UniqueConstraint(
                Lower("slug"),
                name="chat_room_slug_any_case",
                violation_error_message="A room with this slug (in any case) already exists.",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("description"), DESCRIPTION_MAX),
                name="chat_room_description_length",
                violation_error_message=f"At most {DESCRIPTION_MAX} characters.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("chat:room_detail", kwargs={"slug": self.slug})

    @property
    def retention_summary(self) -> str:
        """What the room's page says about pruning ("" when it keeps everything)."""
        parts = []
        if self.retention:
            noun = "message" if self.retention == 1 else "messages"
            parts.append(f"the newest {self.retention:,} {noun}")
        if self.retention_days:
            noun = "day" if self.retention_days == 1 else "days"
            parts.append(f"messages for {self.retention_days:,} {noun}")
        return f"This room keeps {' and '.join(parts)}." if parts else ""

    def clean(self) -> None:
        self.title = clean_required(self.title, multiline=False)
        self.description = clean_text(self.description).strip()
        if not self.title:
            raise ValidationError({"title": "A room needs a title."})


class Message(models.Model):
    # The id orders the room and pages its history ("before_id"); ``seq`` is the room's
    # change counter at the message's last change, and resume reads ``seq > cursor``:
    # new messages, edits, reactions and deletions (tombstones) in one query.
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    seq = models.PositiveBigIntegerField(default=0, editable=False)
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A deleted message stays as a tombstone (body cleared) so resuming pages drop it.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The client's id for a send, so a send retried after a lost ack is stored once.
    nonce = models.CharField(max_length=64, blank=True, default="", editable=False)
    # Who reacted with what, {emoji: [[user id, username], ...]}: kept beside the body so
    # a sync or resume reads messages with their reactions in one query. The Reaction
    # rows are the truth (uniqueness, the admin); this is written with them.
    reactions = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["room", "id"], name="chat_message_room_id"),
            models.Index(fields=["room", "seq"], name="chat_message_room_seq"),
        ]
        constraints = [
            # A nonce names one send in one room: the same nonce in another room is
            # another message (a retry is always to the room it was first sent to).
            models.UniqueConstraint(
                fields=["room", "author", "nonce"],
                condition=~models.Q(nonce=""),
                name="chat_message_room_author_nonce",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author} in {self.room}: {self.body[:40]}"


class Mute(models.Model):
    """A user who may read a room but not post in it."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="mutes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_mutes"
    )
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A mute lapses by itself at this time (the row stays, lapsed, until staff delete it
    # or mute again); empty: until staff lift it.
    expires_at = models.DateTimeField(
        "until", null=True, blank=True, help_text="Empty: until staff lift the mute."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="chat_mute_unique")]

    def __str__(self) -> str:
        return f"{self.user} muted in {self.room}"


# The mutes in force (not lapsed), by the database's clock: every check of a mute uses it.
MUTE_IN_FORCE = models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=Now())


class MessageEdit(models.Model):
    """A message's text before an edit, for staff (the admin shows the history)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField()
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Edit of message {self.message_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reaction_set")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_reactions"
    )
    emoji = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="chat_reaction_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.emoji} on message {self.message_id}"


class Mention(models.Model):
    """``@username`` in a message: what the room list's mention counts read."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_mentions"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["user", "room", "message"], name="chat_mention_user")]

    def __str__(self) -> str:
        return f"{self.user} in message {self.message_id}"


class ReadState(models.Model):
    """How far a user has read a room: the id of the last message their pages showed.

    Unread counts are counted from it when read (messages after it), so a post costs no
    write per member. A row exists once the user has opened the room: those are the rooms
    whose counts the room list shows."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_reads"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="reads")
    last_read_id = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "room"], name="chat_read_unique")]

    def __str__(self) -> str:
        return f"{self.user} read {self.room} to {self.last_read_id}"
