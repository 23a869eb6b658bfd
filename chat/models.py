from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class Room(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=1000, blank=True)
    retention = models.PositiveIntegerField(
        default=10,
        help_text="How many messages the room keeps; older ones are deleted. 0 keeps all.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("chat:room_detail", kwargs={"slug": self.slug})

    @property
    def group_name(self) -> str:
        return self.group_for(self.pk)

    @staticmethod
    def group_for(room_id: int) -> str:
        # By id, not slug: a renamed room keeps its open sockets.
        return f"chat.room.{room_id}"


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
