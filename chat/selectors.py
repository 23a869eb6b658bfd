"""Reads of chat data."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from chat.models import Message, Mute, Room


def room_list() -> QuerySet[Room]:
    return Room.objects.all()


def room_get(*, slug: str) -> Room | None:
    return Room.objects.filter(slug=slug).first()


def _messages(room: Room) -> QuerySet[Message]:
    return Message.objects.filter(room=room).select_related("author")


def message_recent(*, room: Room, limit: int) -> tuple[list[Message], bool]:
    """The newest ``limit`` messages, oldest first, and whether older ones exist."""
    newest = list(_messages(room).order_by("-id")[: limit + 1])
    return newest[:limit][::-1], len(newest) > limit


def message_before(*, room: Room, before_id: int, limit: int) -> tuple[list[Message], bool]:
    older = list(_messages(room).filter(id__lt=before_id).order_by("-id")[: limit + 1])
    return older[:limit][::-1], len(older) > limit


def message_after(*, room: Room, after_id: int, limit: int) -> tuple[list[Message], bool]:
    """Messages after the cursor, oldest first, and whether more than ``limit`` exist."""
    newer = list(_messages(room).filter(id__gt=after_id).order_by("id")[: limit + 1])
    return newer[:limit], len(newer) > limit


def user_is_muted(*, room: Room, user: Any) -> bool:
    return Mute.objects.filter(room=room, user=user).exists()
