"""Reads of chat data."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from chat.models import MUTE_IN_FORCE, Mention, Message, Mute, ReadState, Room
from common.sql import Compiled

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


def room_cached_here(*, slug: str) -> Room | None:
    """The room if this process read it less than CHAT_ROOM_CACHE_SECONDS ago (no query:
    a socket checks this before it hops to the database thread)."""
    hit = _room_cache.get(slug)
    if hit is not None and time.monotonic() - hit[1] < settings.CHAT_ROOM_CACHE_SECONDS:
        return hit[0]
    return None


def room_get_cached(*, slug: str) -> Room | None:
    """``room_get``, remembered for CHAT_ROOM_CACHE_SECONDS in this process (changes
    made through this process clear it at once; other processes see them after that)."""
    hit = room_cached_here(slug=slug)
    if hit is not None:
        return hit
    room = room_get(slug=slug)
    if room is not None:
        _room_cache[slug] = (room, time.monotonic())
    return room


def room_cache_clear(**kwargs: Any) -> None:
    _room_cache.clear()


def _messages(room: Room) -> QuerySet[Message]:
    """The room's messages that are shown (tombstones of deleted ones left out)."""
    return Message.objects.filter(room=room, deleted_at__isnull=True).select_related("author")


def message_get(*, room: Room, message_id: int) -> Message | None:
    return _messages(room).filter(pk=message_id).first()


def message_recent(*, room: Room, limit: int) -> tuple[list[Message], bool]:
    """The newest ``limit`` messages, oldest first, and whether older ones exist."""
    newest = list(_messages(room).order_by("-id")[: limit + 1])
    return newest[:limit][::-1], len(newest) > limit


def message_before(*, room: Room, before_id: int, limit: int) -> tuple[list[Message], bool]:
    older = list(_messages(room).filter(id__lt=before_id).order_by("-id")[: limit + 1])
    return older[:limit][::-1], len(older) > limit


def message_after(*, room: Room, after_id: int, limit: int) -> tuple[list[Message], bool]:
    """Messages after ``after_id``, oldest first, and whether more than ``limit`` exist."""
    newer = list(_messages(room).filter(id__gt=after_id).order_by("id")[: limit + 1])
    return newer[:limit], len(newer) > limit


def message_changes(*, room: Room, after_seq: int, limit: int) -> tuple[list[Message], bool]:
    """Everything that changed after the cursor, in the order it changed: new messages,
    edited ones, reactions, and tombstones of deleted ones. One query, on (room, seq)."""
    rows = Message.objects.filter(room=room, seq__gt=after_seq).select_related("author")
    changed = list(rows.order_by("seq")[: limit + 1])
    return changed[:limit], len(changed) > limit


@dataclass(frozen=True)
class Context:
    """Messages around one, for a link to it: ``found`` is False when it is gone."""

    found: bool
    messages: list[Message]
    has_older: bool
    has_newer: bool


def room_seq(*, room: Room) -> int:
    """The room's change counter as committed now: every change up to it is readable."""
    return Room.objects.filter(pk=room.pk).values_list("seq", flat=True).first() or 0


def message_context(*, room: Room, message_id: int, limit: int) -> Context:
    half = max(1, limit // 2)
    older, has_older = message_before(room=room, before_id=message_id, limit=half)
    newer, has_newer = message_after(room=room, after_id=message_id - 1, limit=half + 1)
    found = bool(newer) and newer[0].pk == message_id
    return Context(found, older + newer, has_older, has_newer)


def read_state(*, user: Any, room: Room) -> ReadState | None:
    return ReadState.objects.filter(user=user, room=room).first()


@dataclass(frozen=True)
class Unread:
    room_id: int
    last_read_id: int
    unread: int  # capped at CHAT_UNREAD_COUNT_LIMIT
    mentions: int
    top_id: int  # the newest message counted: live activity adds what comes after it


def top_message_id(*, room_id: int) -> int:
    """The newest message id of the room (0 when it has none)."""
    newest = Message.objects.filter(room_id=room_id).order_by("-id").values_list("id", flat=True)
    return newest.first() or 0


def unread_count(
    *, user: Any, room_id: int, last_read_id: int, top_id: int | None = None
) -> Unread:
    """Counted from the read cursor when asked, not kept per member: a post writes
    nothing for the people who have not read it. Each count stops at the limit. With
    ``top_id`` known and reached, nothing is left to count."""
    limit = settings.CHAT_UNREAD_COUNT_LIMIT
    if top_id is None:
        top_id = top_message_id(room_id=room_id)
    if last_read_id >= top_id:
        return Unread(room_id, last_read_id, 0, 0, top_id)
    room_messages = Message.objects.filter(room_id=room_id)
    unread = (
        room_messages.filter(id__gt=last_read_id, id__lte=top_id, deleted_at__isnull=True)
        .exclude(author_id=getattr(user, "pk", user))
        .values("id")[:limit]
        .count()
    )
    mentions = (
        Mention.objects.filter(
            user_id=getattr(user, "pk", user),
            room_id=room_id,
            message_id__gt=last_read_id,
            message_id__lte=top_id,
            message__deleted_at__isnull=True,
        )
        .values("id")[:limit]
        .count()
    )
    return Unread(room_id, last_read_id, unread, mentions, top_id)


def unread_counts(*, user: Any) -> dict[int, Unread]:
    """The counts of every room the user has opened, by room id."""
    reads = ReadState.objects.filter(user=user).values_list("room_id", "last_read_id")
    return {
        room_id: unread_count(user=user, room_id=room_id, last_read_id=last_read_id)
        for room_id, last_read_id in reads
    }


WORD = re.compile(r"\w+")
SEARCH_WORDS_MAX = 8


def search_words(query: str) -> list[str]:
    """The words of a search, as the index splits text: punctuation and operators
    never reach the database's query syntax."""
    return WORD.findall(query.lower())[:SEARCH_WORDS_MAX]


def message_matches(query: str) -> QuerySet[Message]:
    """Messages holding every word of ``query`` (each may be the start of a word), with the
    database's own full-text index: FTS5 on SQLite, tsvector on PostgreSQL. Unordered;
    tombstones included (the admin shows them)."""
    words = search_words(query)
    found = Message.objects.all()
    if not words:
        return found.none()
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        terms = " & ".join(f"{word}:*" for word in words)
        found = found.alias(document=SearchVector("body", config="simple")).filter(
            document=SearchQuery(terms, search_type="raw", config="simple")
        )
    elif connection.vendor == "sqlite":
        terms = " ".join(f'"{word}"*' for word in words)
        found = found.filter(
            id__in=RawSQL(
                "SELECT rowid FROM chat_message_fts WHERE chat_message_fts MATCH %s", [terms]
            )
        )
    else:  # another database: no index, a scan
        for word in words:
            found = found.filter(body__icontains=word)
    return found


def message_search(
    *, query: str, room: Room | None = None, before_id: int | None = None, limit: int
) -> tuple[list[Message], bool]:
    """``message_matches`` that are shown, in ``room`` or in every room, newest first,
    before ``before_id`` (the next page): (messages, whether more exist)."""
    found = message_matches(query).filter(deleted_at__isnull=True)
    found = found.select_related("author", "room")
    if room is not None:
        found = found.filter(room=room)
    if before_id is not None:
        found = found.filter(id__lt=before_id)
    rows = list(found.order_by("-id")[: limit + 1])
    return rows[:limit], len(rows) > limit


# The user's read cursor in a room, whether they are muted there and until when
# (common.sql).
_VIEWER = Compiled(
    lambda p: (
        Room.objects.filter(pk=p.room)
        .annotate(
            last_read=Subquery(
                ReadState.objects.filter(user=p.user, room=OuterRef("pk")).values("last_read_id")[
                    :1
                ]
            ),
            muted=Exists(Mute.objects.filter(MUTE_IN_FORCE, user=p.user, room=OuterRef("pk"))),
            muted_until=Subquery(
                Mute.objects.filter(user=p.user, room=OuterRef("pk")).values("expires_at")[:1]
            ),
        )
        .values_list("last_read", "muted", "muted_until")
    ),
    room=int,
    user=int,
)


@dataclass(frozen=True)
class Viewer:
    last_read: int | None  # None before their first visit
    muted: bool
    muted_until: datetime | None  # when a mute in force lapses (None: when lifted)


def viewer_state(*, room: Room, user: Any) -> Viewer:
    """In one query: the user's read cursor in the room, and whether (and until when)
    they are muted there."""
    row = _VIEWER.first(room=room.pk, user=user.pk)
    if row is None:
        return Viewer(None, False, None)
    muted = bool(row[1])
    return Viewer(row[0], muted, row[2] if muted else None)


def user_is_muted(*, room: Room, user: Any) -> bool:
    return Mute.objects.filter(MUTE_IN_FORCE, room=room, user=user).exists()
