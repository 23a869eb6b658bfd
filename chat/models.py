from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
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
TOPIC_MAX = 200


class Kind(models.TextChoices):
    ROOM = "room", "Room"
    DIRECT = "direct", "Direct conversation"


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
    # A private room is seen only by its members (docs/decisions.md, "Private rooms"):
    # users with a Membership, and the members of ``group`` if it is set.
    private = models.BooleanField(
        default=False, help_text="Only its members see a private room; others get a 404."
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_rooms",
        help_text="Members of this group are members of the room.",
    )
    topic = models.CharField(max_length=TOPIC_MAX, blank=True)
    # A direct conversation is a private room of its own kind: the same history, unread
    # state, edits, reactions, search and resume; listed apart, titled by its members.
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ROOM, editable=False)
    # A direct conversation's members, as sorted user ids ("3.8.15"): one per set of people.
    direct_key = models.CharField(
        max_length=200, null=True, blank=True, unique=True, editable=False
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
        self.topic = clean_text(self.topic or "").strip()
        if not self.title:
            raise ValidationError({"title": "A room needs a title."})


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MODERATOR = "moderator", "Moderator"
    MEMBER = "member", "Member"


# Roles that may invite, remove, edit the room and moderate it.
MANAGING_ROLES = frozenset({Role.OWNER, Role.MODERATOR})


class Membership(models.Model):
    """A user's place in a room: what makes them a member of a private room, and their
    role in any room (owners and moderators manage it). Members of the room's group are
    members too, with no row, as ``member``."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_membership_unique")
        ]
        indexes = [models.Index(fields=["user", "room"], name="chat_membership_user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display().lower()}) in {self.room}"


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
    # The message this one answers (same room). No database constraint, nothing done on
    # delete and no index: a pruned original leaves its id behind and the reply says its
    # original is gone, as for a deleted one, at no cost to pruning; nothing looks
    # replies up by their original.
    reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    # Its attachments when already at hand (a post has just linked them): what
    # MessageData reads instead of a query. Not a column.
    known_attachments: list[Attachment] | None = None

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


# What a message is read with to be sent to pages (protocol.MessageData): its author,
# and the message it answers with that one's author, in the same query.
MESSAGE_RELATED = ("author", "reply_to__author")


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


class Block(models.Model):
    """``blocker`` blocked ``blocked``: no direct messages from them, no notification of
    their mentions, and their messages folded away in shared rooms."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_blocks"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_blocked_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="chat_block_unique"),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")), name="chat_block_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.blocker} blocked {self.blocked}"


class Attachment(models.Model):
    """A file shared in a room: uploaded first (pending, ``message`` empty), then sent
    with a message. The file lives in the ``uploads`` storage under a random name; the
    name people see is ``name``, cleaned. Deleting the row deletes the files (after the
    transaction commits: chat.services.attachments)."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_attachments"
    )
    # Where the storage keeps it: random, never derived from the name or the uploader.
    file = models.CharField("stored as", max_length=255, unique=True, editable=False)
    name = models.CharField(max_length=255)
    content_type = models.CharField("type", max_length=100)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail = models.CharField(max_length=255, blank=True, default="", editable=False)
    thumb_width = models.PositiveIntegerField(null=True, blank=True)
    thumb_height = models.PositiveIntegerField(null=True, blank=True)
    # Its place among its message's files, as the sender attached them (uploads finish in
    # any order).
    position = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            # Pending uploads by age, for the prune.
            models.Index(
                fields=["created_at"],
                condition=models.Q(message__isnull=True),
                name="chat_attachment_pending",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("chat:file", kwargs={"pk": self.pk, "name": self.name})

    def thumbnail_url(self) -> str | None:
        return reverse("chat:thumbnail", kwargs={"pk": self.pk}) if self.thumbnail else None


class RoomNotificationMute(models.Model):
    """A user who wants no notifications from a room (mentions there notify them of
    nothing, so nothing is emailed either). Theirs to set, unlike ``Mute``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_notification_mutes"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "room"], name="chat_notification_mute_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} muted notifications from {self.room}"
