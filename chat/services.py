"""Every change to chat state, and the broadcast that goes with it.

Consumers, views, the admin and management commands all call these, so a message
deleted in the admin or posted by ``manage.py`` reaches open browsers like one sent
from a browser. Broadcasts leave only after the transaction commits.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from chat import protocol
from chat.models import Message, Mute, Room
from chat.selectors import mentioned_users, user_is_muted
from notifications.services import TITLE_MAX, notification_fold, times
from rtsite import presence
from rtsite.errors import ActionError, ErrorCode
from rtsite.loops import PerLoop
from rtsite.ratelimit import account_take
from rtsite.realtime import publish_now, publish_on_commit
from rtsite.selectors import user_is_active
from rtsite.text import clean_required


def room_create(*, slug: str, title: str, description: str = "", retention: int = 10) -> Room:
    room = Room(slug=slug, title=title, description=description, retention=retention)
    room.full_clean()
    room.save()
    return room


def _prune(room: Room) -> list[int]:
    if room.retention == 0:
        return []
    keep_from = (
        Message.objects.filter(room=room)
        .order_by("-id")
        .values_list("id", flat=True)[room.retention - 1 : room.retention]
    )
    cutoff = next(iter(keep_from), None)
    if cutoff is None:
        return []
    stale = Message.objects.filter(room=room, id__lt=cutoff)
    ids = list(stale.values_list("id", flat=True))
    stale.delete()
    return ids


def message_post(*, room: Room, author: Any, body: str) -> Message:
    """Store a message (pruning beyond the room's retention) and broadcast it on commit."""
    # Checked in the database on every post: an account deactivated since the socket
    # opened is refused at its next message.
    if not getattr(author, "is_authenticated", False) or not user_is_active(user=author):
        raise ActionError(ErrorCode.AUTH_REQUIRED, "log in to post messages")
    body = clean_required(body)
    if not body:
        raise ActionError(ErrorCode.INVALID, "a message cannot be empty")
    max_length = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(body) > max_length:
        raise ActionError(
            ErrorCode.TOO_LARGE, f"a message can be at most {max_length} characters long"
        )
    with transaction.atomic():
        # Lock the room so concurrent posts prune in order (PostgreSQL; SQLite serialises).
        room = Room.objects.select_for_update().filter(pk=room.pk).first()
        if room is None:  # deleted since the socket opened
            raise ActionError(ErrorCode.NOT_FOUND, "this room no longer exists")
        if user_is_muted(room=room, user=author):
            raise ActionError(ErrorCode.MUTED, "you are muted in this room")
        message = Message.objects.create(room=room, author=author, body=body)
        _prune(room)
        publish_on_commit(
            protocol.room_group(room.pk),
            protocol.EVENT_MESSAGE,
            protocol.message_frame(message),
            cursor=message.pk,
        )
        if "@" in body:
            _notify_mentions(message)
    return message


def _notify_mentions(message: Message) -> None:
    """Tell each ``@username`` in the message, with a link to it (same transaction).
    Repeats from one author fold into one notification per recipient."""
    users = mentioned_users(body=message.body, author=message.author)
    if not users:
        return
    room = message.room
    author = message.author.get_username()
    link = reverse("chat:room_detail", args=[room.slug]) + f"#m{message.pk}"
    for user in users:
        notification_fold(
            key=f"mention:{message.author_id}",
            user=user,
            title=lambda n: f"{author} mentioned you{times(n)} in {room.title}"[:TITLE_MAX],
            body=message.body[:300],
            link=link,
            created_by=message.author,
        )


def message_delete(*, messages: Iterable[Message]) -> int:
    """Delete messages and remove them live from every open page of their rooms."""
    by_room: dict[int, list[int]] = defaultdict(list)
    for message in messages:
        by_room[message.room_id].append(message.pk)
    deleted = 0
    with transaction.atomic():
        for room_id, ids in by_room.items():
            deleted += Message.objects.filter(pk__in=ids).delete()[0]
            publish_on_commit(
                protocol.room_group(room_id), protocol.EVENT_DELETED, protocol.deleted_frame(ids)
            )
    return deleted


def room_prune(*, room: Room) -> int:
    """Apply the room's retention now (after it was lowered, say); returns how many went.

    Like pruning on post, this is storage policy: open pages keep what they have shown.
    """
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        return len(_prune(room))


def user_mute(*, room: Room, user: Any, created_by: Any = None, reason: str = "") -> Mute:
    mute, _created = Mute.objects.update_or_create(
        room=room, user=user, defaults={"created_by": created_by, "reason": reason}
    )
    return mute


def user_unmute(*, room: Room, user: Any) -> bool:
    return Mute.objects.filter(room=room, user=user).delete()[0] > 0


async def presence_announce(*, room: Room, user: Any, change: presence.Change) -> None:
    """A user's first socket in the room arrived, or their last one left: the room hears
    of it (batched, below)."""
    if change.first:
        _presence_batch().add(room, "joined", user, change.online)
    elif change.last:
        _presence_batch().add(room, "left", user, change.online)


class _PresenceBatch:
    """Joins and leaves of one process, sent as one frame per room per window.

    One frame per window instead of one per user: a thousand people arriving at once
    would otherwise cost a million frames (each join sent to everyone present). The
    window is CHAT_PRESENCE_BATCH_SECONDS, growing with the room beyond the size of the
    online list (one presence frame costs a write to every socket in the room), to at
    most 5 s.
    """

    def __init__(self) -> None:
        self.pending: dict[int, dict[str, Any]] = {}

    def add(self, room: Room, kind: str, user: Any, online: int) -> None:
        entry = self.pending.get(room.pk)
        if entry is None:
            entry = self.pending[room.pk] = {"room": room, "joined": {}, "left": {}}
            base = settings.CHAT_PRESENCE_BATCH_SECONDS
            listed = max(1, settings.CHAT_ONLINE_LIST_LIMIT)
            delay = min(5.0, base * max(1.0, online / listed))
            asyncio.get_running_loop().call_later(
                delay, lambda: asyncio.ensure_future(self.flush(room.pk))
            )
        other = "left" if kind == "joined" else "joined"
        # A join and a leave of the same user within one window cancel out.
        if entry[other].pop(user.pk, None) is None:
            entry[kind][user.pk] = protocol.user_payload(user)
        entry["online"] = online

    async def flush(self, room_id: int) -> None:
        entry = self.pending.pop(room_id, None)
        if entry is None:
            return
        room = entry["room"]
        if entry["joined"] or entry["left"]:
            await publish_now(
                protocol.room_group(room.pk),
                protocol.EVENT_PRESENCE,
                protocol.presence_frame(
                    list(entry["joined"].values()), list(entry["left"].values()), entry["online"]
                ),
            )
        await publish_now(
            protocol.LOBBY_GROUP,
            protocol.EVENT_ROOM_ONLINE,
            protocol.room_online_frame(room.slug, entry["online"]),
        )


_batches = PerLoop(_PresenceBatch)


def _presence_batch() -> _PresenceBatch:
    return _batches.get()


async def post_allowed(*, user: Any) -> None:
    """The per-account limit on posts, across all of the user's sockets and processes
    (each socket also has its own frame limit): thirty tabs post no faster than one."""
    allowed = await account_take(
        action="chat.post",
        key=user.pk,
        rate=settings.CHAT_POST_RATE_PER_SECOND,
        burst=settings.CHAT_POST_BURST,
    )
    if not allowed:
        raise ActionError(ErrorCode.RATE_LIMITED, "you are posting too fast; slow down")


async def typing_start(*, room: Room, user: Any) -> None:
    # A muted user may not post, so may not look as if about to.
    if await database_sync_to_async(user_is_muted)(room=room, user=user):
        raise ActionError(ErrorCode.MUTED, "you are muted in this room")
    timeout = settings.CHAT_TYPING_TIMEOUT_SECONDS
    await publish_now(
        protocol.room_group(room.pk),
        protocol.EVENT_TYPING,
        protocol.typing_frame(protocol.user_payload(user), int(timeout * 1000)),
    )
