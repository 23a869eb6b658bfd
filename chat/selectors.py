"""Reads of chat data."""

from __future__ import annotations

import re
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from chat.models import Message, Mute, Room

# "@name" where name uses Django's username characters; not inside an e-mail address.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]+)")
MAX_MENTIONS = 20


def mentioned_users(*, body: str, author: Any) -> list[Any]:
    """Active users named as ``@username`` in ``body``, the author left out."""
    names = {name.rstrip(".") for name in MENTION.findall(body)} - {author.get_username()}
    if not names:
        return []
    names = set(sorted(names)[:MAX_MENTIONS])
    users = get_user_model().objects.filter(username__in=names, is_active=True)
    return list(users.order_by("pk"))


def room_list() -> QuerySet[Room]:
    return Room.objects.all()


def room_get(*, slug: str) -> Room | None:
    return Room.objects.filter(slug=slug).first()


# slug -> (room, monotonic time it was read). Sockets look their room up on every
# connect; a thousand arriving at once would be a thousand identical queries.
_room_cache: dict[str, tuple[Room, float]] = {}


def room_get_cached(*, slug: str) -> Room | None:
    """``room_get``, remembered for CHAT_ROOM_CACHE_SECONDS in this process (changes
    made through this process clear it at once; other processes see them after that)."""
    ttl = settings.CHAT_ROOM_CACHE_SECONDS
    hit = _room_cache.get(slug)
    if hit is not None and time.monotonic() - hit[1] < ttl:
        return hit[0]
    room = room_get(slug=slug)
    if room is not None:
        _room_cache[slug] = (room, time.monotonic())
    return room


def room_cache_clear(**kwargs: Any) -> None:
    _room_cache.clear()


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
