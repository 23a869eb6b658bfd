from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse

from rtsite.text import clean_required, clean_text

DESCRIPTION_MAX = 1000
RETENTION_MAX = 100_000


class Room(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    # TextField's max_length is only a form hint; the validator and the check enforce it.
    description = models.TextField(
        max_length=DESCRIPTION_MAX, blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)]
    )
    retention = models.PositiveIntegerField(
        default=10,
        validators=[MaxValueValidator(RETENTION_MAX)],
        help_text=(
            f"How many messages the room keeps (at most {RETENTION_MAX:,}); older ones are"
            " deleted. 0 keeps all."
        ),
    )
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

    def clean(self) -> None:
        self.title = clean_required(self.title, multiline=False)
        self.description = clean_text(self.description).strip()
        if not self.title:
            raise ValidationError({"title": "A room needs a title."})


class Message(models.Model):
    # The id is the cursor for history ("before_id") and for resume ("after_id").
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["room", "id"], name="chat_message_room_id")]

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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="chat_mute_unique")]

    def __str__(self) -> str:
        return f"{self.user} muted in {self.room}"
