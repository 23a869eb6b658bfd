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
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from chat.models import (
    MESSAGE_RELATED,
    MUTE_IN_FORCE,
    Attachment,
    Block,
    Kind,
    Membership,
    Mention,
    Message,
    Mute,
    ReadState,
    Role,
    Room,
    RoomNotificationMute,
)
from common.sql import Compiled

# "@name" where name uses Django's username characters; not inside an e-mail address.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]+)")
MAX_MENTIONS = 20


def mentioned_users(*, body: str, author: Any, room: Room | None = None) -> list[Any]:
    """Active users named as ``@username`` in ``body``, the author left out; in a private
    ``room``, only its members (a mention must not tell anyone else the room exists)."""
    names = {name.rstrip(".") for name in MENTION.findall(body)} - {author.get_username()}
    if not names:
        return []
    names = set(sorted(names)[:MAX_MENTIONS])
    users = get_user_model().objects.filter(username__in=names, is_active=True)
    if room is not None and room.private:
        users = users.filter(_member_of(room))
    # Whoever blocked the author is not told of their mentions.
    users = users.exclude(pk__in=Block.objects.filter(blocked=author).values("blocker_id"))
    return list(users.order_by("pk"))


def _member_of(room: Room) -> Q:
    """Users who are members of ``room`` (a filter on users)."""
    members = Q(pk__in=Membership.objects.filter(room=room).values("user_id"))
    if room.group_id is not None:
        members |= Q(groups=room.group_id)
    return members


def _visible_rooms(user: Any) -> Q:
    """Rooms ``user`` may see (a filter on rooms): every public room, and the private rooms
    they are a member of, by a membership or through the room's group."""
    if user is None or not user.is_authenticated:
        return Q(private=False)
    return (
        Q(private=False)
        | Q(pk__in=Membership.objects.filter(user=user).values("room_id"))
        | Q(group__in=user.groups.values("pk"))
    )


def room_list(*, user: Any = None) -> QuerySet[Room]:
    """The rooms ``user`` may see (public ones only for a visitor), direct conversations
    left out."""
    return Room.objects.filter(_visible_rooms(user), kind=Kind.ROOM)


def direct_list(*, user: Any) -> QuerySet[Room]:
    """The user's direct conversations, the latest changed first."""
    if user is None or not user.is_authenticated:
        return Room.objects.none()
    mine = Membership.objects.filter(user=user).values("room_id")
    return Room.objects.filter(kind=Kind.DIRECT, pk__in=mine).order_by("-seq", "-pk")


def direct_title(room: Room, viewer: Any) -> str:
    """What a direct conversation is called for ``viewer``: the others' names (its title
    holds every member's, sorted; usernames hold no commas)."""
    if room.kind != Kind.DIRECT:
        return room.title
    me = viewer.get_username() if viewer is not None and viewer.is_authenticated else None
    others = [name for name in room.title.split(", ") if name != me]
    return ", ".join(others) or room.title


def blocked_ids(*, user: Any) -> list[int]:
    """Whom ``user`` blocked."""
    if user is None or not user.is_authenticated:
        return []
    return sorted(Block.objects.filter(blocker=user).values_list("blocked_id", flat=True))


def blocked_by_any(*, user_ids: Any, author: Any) -> bool:
    """Whether any of ``user_ids`` blocked ``author``."""
    return Block.objects.filter(blocker_id__in=user_ids, blocked=author).exists()


def direct_blocked(*, room: Room, author: Any) -> bool:
    """Whether another member of the direct conversation ``room`` blocked ``author``."""
    others = Membership.objects.filter(room=room).exclude(user=author).values("user_id")
    return blocked_by_any(user_ids=others, author=author)


def joined_room_ids(*, user: Any) -> set[int]:
    """The rooms the user joined (has a read cursor in: opening a room joins it)."""
    if user is None or not user.is_authenticated:
        return set()
    return set(ReadState.objects.filter(user=user).values_list("room_id", flat=True))


def room_all() -> QuerySet[Room]:
    """Every room, private ones too (for operators' commands, never for a page)."""
    return Room.objects.all()


def room_get(*, slug: str) -> Room | None:
    return Room.objects.filter(slug=slug).first()


def member_role(*, room: Room, user: Any) -> str | None:
    """The user's role in ``room``: their membership's, ``member`` through the room's
    group, None if neither (a visitor: None)."""
    if user is None or not user.is_authenticated:
        return None
    role = Membership.objects.filter(room=room, user=user).values_list("role", flat=True).first()
    if role is None and room.group_id is not None and user.groups.filter(pk=room.group_id).exists():
        role = Role.MEMBER
    return role


def room_visible_to(*, room: Room, user: Any) -> bool:
    """Whether ``user`` (maybe anonymous) may see ``room`` at all: its page, history,
    search results, files and mentions. Every such decision goes through here; a room a
    user may not see answers as if it did not exist (404), never 403."""
    return not room.private or member_role(room=room, user=user) is not None


def room_visible_get(*, slug: str, user: Any) -> Room | None:
    """The room if ``user`` may see it, else None (as if there were no such room)."""
    room = room_get(slug=slug)
    return room if room is not None and room_visible_to(room=room, user=user) else None


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str
    role: str
    through_group: bool  # a member by the room's group only (removed from the group, not here)


def room_members(*, room: Room, limit: int) -> tuple[list[Member], int]:
    """Up to ``limit`` of the room's members, owners first then by name, and how many
    there are: those with a membership, and the active members of its group."""
    rows = {
        user_id: Member(user_id, username, role, False)
        for user_id, username, role in Membership.objects.filter(
            room=room, user__is_active=True
        ).values_list("user_id", "user__username", "role")
    }
    if room.group_id is not None:
        grouped = get_user_model().objects.filter(groups=room.group_id, is_active=True)
        for user_id, username in grouped.exclude(pk__in=rows).values_list("pk", "username"):
            rows[user_id] = Member(user_id, username, Role.MEMBER, True)
    order = {Role.OWNER: 0, Role.MODERATOR: 1, Role.MEMBER: 2}
    members = sorted(rows.values(), key=lambda m: (order.get(Role(m.role), 3), m.username))
    return members[:limit], len(members)


def room_member_ids(*, room: Room) -> set[int]:
    """Every member's user id (a private room's audience)."""
    ids = set(Membership.objects.filter(room=room).values_list("user_id", flat=True))
    if room.group_id is not None:
        grouped = get_user_model().objects.filter(groups=room.group_id)
        ids.update(grouped.values_list("pk", flat=True))
    return ids


def attachment_visible(*, pk: int, user: Any) -> Attachment | None:
    """The attachment if ``user`` may fetch it: sent in a room they may see (and read,
    when not logged in), or their own upload not sent yet. None otherwise, as if it did
    not exist."""
    attachment = Attachment.objects.select_related("room", "message").filter(pk=pk).first()
    if attachment is None:
        return None
    logged_in = getattr(user, "is_authenticated", False)
    if attachment.message is None:
        return attachment if logged_in and attachment.uploader_id == user.pk else None
    if attachment.message.deleted_at is not None:
        return None  # its row goes with the deletion; never served meanwhile
    if not logged_in and not settings.CHAT_ANONYMOUS_READ:
        return None
    return attachment if room_visible_to(room=attachment.room, user=user) else None


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
    """The room's messages that are shown (tombstones of deleted ones left out), with
    their files (one more query per page, not one per message)."""
    shown = Message.objects.filter(room=room, deleted_at__isnull=True)
    return shown.select_related(*MESSAGE_RELATED).prefetch_related("attachments")


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
    rows = Message.objects.filter(room=room, seq__gt=after_seq).select_related(*MESSAGE_RELATED)
    rows = rows.prefetch_related("attachments")
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
    """The counts of every room the user has joined, by room id: one query for every
    room's newest message, and counting only where something is left (a user with 200
    direct conversations, read, costs two queries, not 200)."""
    reads = dict(ReadState.objects.filter(user=user).values_list("room_id", "last_read_id"))
    tops = dict(
        Message.objects.filter(room_id__in=list(reads))
        .values("room_id")
        .annotate(top=Max("id"))
        .values_list("room_id", "top")
    )
    return {
        room_id: unread_count(
            user=user, room_id=room_id, last_read_id=last_read_id, top_id=tops.get(room_id, 0)
        )
        for room_id, last_read_id in reads.items()
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
    *,
    query: str,
    user: Any = None,
    room: Room | None = None,
    before_id: int | None = None,
    limit: int,
) -> tuple[list[Message], bool]:
    """``message_matches`` that are shown, in ``room`` or in every room ``user`` may see,
    newest first, before ``before_id`` (the next page): (messages, whether more exist)."""
    found = message_matches(query).filter(deleted_at__isnull=True)
    found = found.select_related("author", "room")
    if room is not None:
        found = found.filter(room=room)
    else:
        found = found.filter(room__in=Room.objects.filter(_visible_rooms(user)))
    if before_id is not None:
        found = found.filter(id__lt=before_id)
    rows = list(found.order_by("-id")[: limit + 1])
    return rows[:limit], len(rows) > limit


# What a socket's first sync needs of its viewer, in one query (common.sql): their read
# cursor in the room, whether they are muted there and until when, their membership's
# role, whether the room's group makes them a member, and whether they blocked anyone.
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
            role=Subquery(
                Membership.objects.filter(user=p.user, room=OuterRef("pk")).values("role")[:1]
            ),
            in_group=Exists(
                get_user_model().groups.through.objects.filter(
                    user_id=p.user, group_id=OuterRef("group_id")
                )
            ),
            blocks=Exists(Block.objects.filter(blocker=p.user)),
        )
        .values_list("last_read", "muted", "muted_until", "role", "in_group", "blocks")
    ),
    room=int,
    user=int,
)


@dataclass(frozen=True)
class Viewer:
    last_read: int | None  # None before their first visit
    muted: bool
    muted_until: datetime | None  # when a mute in force lapses (None: when lifted)
    role: str | None = None  # as member_role decides it
    blocks: bool = False  # whether they blocked anyone (blocked_ids says whom)


def viewer_state(*, room: Room, user: Any) -> Viewer:
    """In one query: the user's read cursor in the room, whether (and until when) they
    are muted there, their role there (as ``member_role``) and whether they blocked
    anyone. A socket's first sync takes this on every connect."""
    row = _VIEWER.first(room=room.pk, user=user.pk)
    if row is None:
        return Viewer(None, False, None)
    last_read, muted, muted_until, role, in_group, blocks = row
    if role is None and room.group_id is not None and in_group:
        role = Role.MEMBER
    return Viewer(last_read, bool(muted), muted_until if muted else None, role, bool(blocks))


def user_is_muted(*, room: Room, user: Any) -> bool:
    return Mute.objects.filter(MUTE_IN_FORCE, room=room, user=user).exists()


def room_notifications_muted(*, room: Room, user: Any) -> bool:
    """Whether the user muted notifications from the room (their own choice)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return RoomNotificationMute.objects.filter(room=room, user=user).exists()


def room_notifications_muters(*, room: Room, user_ids: list[int]) -> set[int]:
    """Which of these users muted notifications from the room."""
    return set(
        RoomNotificationMute.objects.filter(room=room, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
