"""Every change to chat state, and the broadcast that goes with it.

Consumers, views, the admin and management commands all call these, so a message
deleted in the admin or posted by ``manage.py`` reaches open browsers like one sent
from a browser. Broadcasts leave only after the transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from chat import protocol
from chat.models import Mention, Message, MessageEdit, Mute, Reaction, ReadState, Room
from chat.selectors import (
    Unread,
    mentioned_users,
    top_message_id,
    unread_count,
    user_is_muted,
)
from common.loops import PerLoop
from common.sql import Compiled
from common.text import clean_required
from notifications.services import TITLE_MAX, notification_fold, notification_follow, times
from realtime import presence
from realtime.broadcast import publish_now, publish_on_commit
from realtime.errors import ActionError, ErrorCode
from realtime.ratelimit import account_take

logger = logging.getLogger(__name__)


def room_create(
    *, slug: str, title: str, description: str = "", retention: int = 0, retention_days: int = 0
) -> Room:
    room = Room(
        slug=slug,
        title=title,
        description=description,
        retention=retention,
        retention_days=retention_days,
    )
    room.full_clean()
    room.save()
    return room


def room_set_retention(*, room: Room, retention: int, retention_days: int) -> int:
    """Change a room's retention policy and apply it now; returns how many went."""
    room.retention, room.retention_days = retention, retention_days
    room.full_clean()
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(retention=retention, retention_days=retention_days)
        return room_prune(room=room)


def _prune(room: Room) -> int:
    """Delete what the room's policy no longer keeps (the room's row is locked). Pruning is
    storage policy, not moderation: open pages keep what they have shown."""
    stale = Message.objects.filter(room=room)
    cutoffs: list[int] = []
    if room.retention:
        keep_from = stale.order_by("-id").values_list("id", flat=True)[
            room.retention - 1 : room.retention
        ]
        cutoffs.extend(keep_from)
    if room.retention_days:
        # Ids grow with time: the first message young enough to keep marks the cut.
        since = timezone.now() - timedelta(days=room.retention_days)
        first_kept = (
            stale.filter(created_at__gte=since).order_by("id").values_list("id", flat=True).first()
        )
        cutoffs.append(
            first_kept if first_kept is not None else top_message_id(room_id=room.pk) + 1
        )
    if not cutoffs:
        return 0
    _total, by_model = stale.filter(id__lt=max(cutoffs)).delete()
    return by_model.get(Message._meta.label, 0)  # not the reactions and edits that went too


# A room's columns, then whether the author is active and muted there: what every post
# reads first (``_locked_room``), compiled once (common.sql).
_ROOM_FIELDS = [field.attname for field in Room._meta.concrete_fields]
_ROOM_FOR_AUTHOR = Compiled(
    lambda p: (
        Room.objects.select_for_update()
        .filter(pk=p.room)
        .annotate(
            author_active=Exists(get_user_model().objects.filter(pk=p.author, is_active=True)),
            author_muted=Exists(Mute.objects.filter(room=OuterRef("pk"), user=p.author)),
        )
        .values_list(*_ROOM_FIELDS, "author_active", "author_muted")
    ),
    room=int,
    author=int,
)
# The message an author already sent to this room with this nonce (a retried send).
_SENT_WITH_NONCE = Compiled(
    lambda p: Message.objects.filter(room=p.room, author=p.author, nonce=p.nonce).values_list("pk")[
        :1
    ],
    room=int,
    author=int,
    nonce=str,
)


def _locked_room(room: Room, author: Any = None) -> Room:
    """The room's row, locked until commit: its change counter hands out ``seq`` in commit
    order (PostgreSQL; SQLite serialises writers anyway). With ``author``, the same query
    checks the account (refused if deactivated since the socket opened) and notes on the
    row whether they are muted here (``author_muted``): one query, not three, per post."""
    if author is None:
        locked = Room.objects.select_for_update().filter(pk=room.pk).first()
    else:
        row = _ROOM_FOR_AUTHOR.first(room=room.pk, author=author.pk)
        locked = None
        if row is not None:
            locked = Room.from_db(DEFAULT_DB_ALIAS, _ROOM_FIELDS, row[:-2])
            if not row[-2]:
                raise ActionError(ErrorCode.AUTH_REQUIRED, "log in to post messages")
            locked.author_muted = bool(row[-1])
    if locked is None:  # deleted since the socket opened
        raise ActionError(ErrorCode.NOT_FOUND, "this room no longer exists")
    return locked


def _next_seq(room: Room) -> int:
    room.seq += 1
    Room.objects.filter(pk=room.pk).update(seq=room.seq)
    return room.seq


def _check_author(author: Any) -> None:
    # Whether the account is still active is checked in the database on every action, by
    # ``_locked_room``: an account deactivated since the socket opened is refused at its
    # next message.
    if not getattr(author, "is_authenticated", False):
        raise ActionError(ErrorCode.AUTH_REQUIRED, "log in to post messages")


def _clean_body(body: str) -> str:
    body = clean_required(body)
    if not body:
        raise ActionError(ErrorCode.INVALID, "a message cannot be empty")
    max_length = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(body) > max_length:
        raise ActionError(
            ErrorCode.TOO_LARGE,
            f"a message can be at most {max_length:,} characters long; this one has {len(body):,}",
        )
    return body


def message_post(*, room: Room, author: Any, body: str, nonce: str = "") -> Message:
    """Store a message (pruning what the room's policy no longer keeps) and broadcast it
    on commit. A send repeated to the same room with the same ``nonce`` (a retry after a
    lost ack) returns the stored message instead of storing it again."""
    _check_author(author)
    body = _clean_body(body)
    with transaction.atomic():
        room = _locked_room(room, author)
        if nonce:
            sent = _SENT_WITH_NONCE.first(room=room.pk, author=author.pk, nonce=nonce)
            if sent is not None:
                return Message.objects.get(pk=sent[0])
        if room.author_muted:
            raise ActionError(ErrorCode.MUTED, "you are muted in this room")
        message = Message.objects.create(
            room=room, author=author, body=body, nonce=nonce, seq=_next_seq(room)
        )
        _prune(room)
        publish_on_commit(
            protocol.room_group(room.pk),
            protocol.EVENT_MESSAGE,
            protocol.message_frame(message),
            cursor=message.seq,
        )
        mentioned = _notify_mentions(message) if "@" in body else []
        # The room list's unread and mention counts, kept live without a write per member.
        publish_on_commit(
            protocol.ACTIVITY_GROUP,
            protocol.EVENT_ACTIVITY,
            protocol.activity_frame(room.slug, message, [user.pk for user in mentioned]),
        )
    return message


# What a mention notification shows: the first characters of its message, which it
# follows (an edit shows the new text; a deletion says so, and the text is gone).
MENTION_BODY_MAX = 300
MENTION_DELETED = "This message was deleted."


def _mention_subject(message_id: int) -> str:
    return f"chat.message:{message_id}"


def _notify_mentions(message: Message) -> list[Any]:
    """Tell each ``@username`` in the message, with a link to it (same transaction), and
    note the mention for their unread counts. Repeats from one author in one room fold
    into one notification per recipient (naming that room)."""
    users = mentioned_users(body=message.body, author=message.author)
    if not users:
        return []
    room = message.room
    Mention.objects.bulk_create([Mention(message=message, user=user, room=room) for user in users])
    author = message.author.get_username()
    link = reverse("chat:room_detail", args=[room.slug]) + f"#m{message.pk}"
    for user in users:
        notification_fold(
            key=f"mention:{message.author_id}:{room.pk}",
            user=user,
            title=lambda n: f"{author} mentioned you{times(n)} in {room.title}"[:TITLE_MAX],
            body=message.body[:MENTION_BODY_MAX],
            link=link,
            created_by=message.author,
            subject=_mention_subject(message.pk),
        )
    return users


def _shown_message(room: Room, message_id: int) -> Message:
    message = (
        Message.objects.filter(room=room, pk=message_id, deleted_at__isnull=True)
        .select_related("author")
        .first()
    )
    if message is None:
        raise ActionError(ErrorCode.NOT_FOUND, "that message no longer exists")
    return message


def _own_message(room: Room, user: Any, message_id: int, *, what: str) -> Message:
    message = _shown_message(room, message_id)
    if message.author_id != user.pk:
        raise ActionError(ErrorCode.FORBIDDEN, f"you can only {what} your own messages")
    return message


def _publish_update(message: Message) -> None:
    publish_on_commit(
        protocol.room_group(message.room_id),
        protocol.EVENT_UPDATED,
        protocol.updated_frame(message),
        cursor=message.seq,
    )


def message_edit(*, room: Room, user: Any, message_id: int, body: str) -> Message:
    """Change the text of one's own message within CHAT_EDIT_WINDOW_SECONDS; the text
    before is kept for staff. Open pages show the new text, "(edited)", at once, and so
    does a mention notification showing the message."""
    _check_author(user)
    body = _clean_body(body)
    with transaction.atomic():
        room = _locked_room(room, user)
        message = _own_message(room, user, message_id, what="edit")
        window = settings.CHAT_EDIT_WINDOW_SECONDS
        if timezone.now() - message.created_at > timedelta(seconds=window):
            minutes = max(1, window // 60)
            raise ActionError(
                ErrorCode.FORBIDDEN,
                f"a message can be edited for {minutes} minute{'s' if minutes != 1 else ''}"
                " after it was sent",
            )
        if room.author_muted:
            raise ActionError(ErrorCode.MUTED, "you are muted in this room")
        if body == message.body:
            return message
        MessageEdit.objects.create(message=message, body=message.body)
        message.body = body
        message.edited_at = timezone.now()
        message.seq = _next_seq(room)
        message.save(update_fields=["body", "edited_at", "seq"])
        _publish_update(message)
        notification_follow(
            subjects=[_mention_subject(message.pk)], body=message.body[:MENTION_BODY_MAX]
        )
    return message


def message_delete_own(*, room: Room, user: Any, message_id: int) -> None:
    _check_author(user)
    with transaction.atomic():
        message = _own_message(_locked_room(room, user), user, message_id, what="delete")
        message_delete(messages=[message])


def message_delete(*, messages: Iterable[Message]) -> int:
    """Delete messages (an author's own, or staff moderating) and remove them live from
    every open page of their rooms.

    Each becomes a tombstone: its text, edits and reactions are deleted, its row stays
    with a new ``seq``, so a page that was away when it happened drops it on resume. A
    mention notification showing its text says it was deleted instead."""
    by_room: dict[int, list[int]] = defaultdict(list)
    for message in messages:
        by_room[message.room_id].append(message.pk)
    deleted = 0
    with transaction.atomic():
        # Rooms locked in id order: two bulk deletions never wait on each other in a circle.
        for room_id, ids in sorted(by_room.items()):
            room = Room.objects.select_for_update().filter(pk=room_id).first()
            if room is None:
                continue
            live = list(Message.objects.filter(pk__in=ids, deleted_at__isnull=True).order_by("id"))
            if not live:
                continue
            now = timezone.now()
            for message in live:
                message.seq = _next_seq(room)
                message.body, message.deleted_at, message.reactions = "", now, {}
            Message.objects.bulk_update(live, ["seq", "body", "deleted_at", "reactions"])
            gone = [message.pk for message in live]
            MessageEdit.objects.filter(message_id__in=gone).delete()
            Reaction.objects.filter(message_id__in=gone).delete()
            Mention.objects.filter(message_id__in=gone).delete()
            notification_follow(
                subjects=[_mention_subject(pk) for pk in gone], body=MENTION_DELETED
            )
            deleted += len(gone)
            publish_on_commit(
                protocol.room_group(room_id),
                protocol.EVENT_DELETED,
                protocol.deleted_frame(gone, room.seq),
                cursor=room.seq,
                extra={"steps": len(gone)},  # one step of the room's seq per message
            )
    return deleted


def reaction_toggle(*, room: Room, user: Any, message_id: int, emoji: str) -> Message:
    """Add the user's reaction, or take it back if it is there; live for everyone."""
    _check_author(user)
    if emoji not in settings.CHAT_REACTIONS:
        raise ActionError(ErrorCode.INVALID, "that reaction is not offered here")
    with transaction.atomic():
        room = _locked_room(room, user)
        message = _shown_message(room, message_id)
        if room.author_muted:
            raise ActionError(ErrorCode.MUTED, "you are muted in this room")
        removed, _ = Reaction.objects.filter(message=message, user=user, emoji=emoji).delete()
        who = list(message.reactions.get(emoji, []))
        if removed:
            who = [pair for pair in who if pair[0] != user.pk]
        else:
            Reaction.objects.create(message=message, user=user, emoji=emoji)
            who.append([user.pk, user.get_username()])
        reactions = {k: v for k, v in message.reactions.items() if k != emoji}
        if who:
            reactions[emoji] = who
        # In the offered order, so every page lists them alike.
        order = {emoji: i for i, emoji in enumerate(settings.CHAT_REACTIONS)}
        message.reactions = {
            k: reactions[k] for k in sorted(reactions, key=lambda k: order.get(k, len(order)))
        }
        message.seq = _next_seq(room)
        message.save(update_fields=["reactions", "seq"])
        _publish_update(message)
    return message


def read_open(*, user: Any, room: Room) -> int:
    """The user's read cursor in the room; a first visit starts it at the newest message
    (history from before one came is not "unread")."""
    state = ReadState.objects.filter(user=user, room=room).first()
    if state is not None:
        return state.last_read_id
    state, _created = ReadState.objects.get_or_create(
        user=user, room=room, defaults={"last_read_id": top_message_id(room_id=room.pk)}
    )
    return state.last_read_id


def read_mark(*, user: Any, room: Room, message_id: int) -> Unread | None:
    """Move the user's read cursor forward to ``message_id`` (never back). Every page of
    the user, in this room and on the room list, hears the new cursor and counts.
    Returns None when it did not move."""
    return read_marks(marks={(user.pk, room.pk): message_id}).get((user.pk, room.pk))


def read_marks(
    *, marks: dict[tuple[int, int], int], publish: bool = True
) -> dict[tuple[int, int], Unread]:
    """Move many read cursors at once: {(user id, room id): message id}.

    Consumers gather the ``read`` frames of a process for CHAT_READ_BATCH_SECONDS and
    write them here together: one transaction, and one UPDATE for all the readers of a
    room who reached the same message (readers at the bottom of a busy room all send its
    newest id). Counts cost nothing for them (nothing is left); only a reader who
    stopped short of the newest message is counted. Returns the cursors that moved; with
    ``publish`` off the caller sends their ``read`` frames (``_publish_reads``).

    A cursor goes no further than the room's newest message: it only moves forward, so
    an id past it (another room's, or made up) would silence the room's unread and
    mention counts for that user for good. (A page reads a message after it was
    committed, so its newest is never past the one read here.)"""
    moved: dict[tuple[int, int], Unread] = {}
    slugs = dict(
        Room.objects.filter(pk__in={room_id for _, room_id in marks}).values_list("pk", "slug")
    )
    tops = {room_id: top_message_id(room_id=room_id) for room_id in slugs}
    by_target: dict[tuple[int, int], list[int]] = defaultdict(list)
    for (user_id, room_id), message_id in marks.items():
        if room_id in tops:
            by_target[(room_id, min(message_id, tops[room_id]))].append(user_id)
    with transaction.atomic():
        for (room_id, message_id), user_ids in sorted(by_target.items()):
            states = ReadState.objects.filter(room_id=room_id, user_id__in=user_ids)
            cursors = dict(states.values_list("user_id", "last_read_id"))
            movers = {uid for uid, last in cursors.items() if last < message_id}
            # A user whose cursor was never made (a page from before read cursors existed).
            missing = [uid for uid in user_ids if uid not in cursors]
            ReadState.objects.bulk_create(
                [
                    ReadState(user_id=uid, room_id=room_id, last_read_id=message_id)
                    for uid in missing
                ],
                ignore_conflicts=True,
            )
            if movers:
                states.filter(user_id__in=movers, last_read_id__lt=message_id).update(
                    last_read_id=message_id, updated_at=timezone.now()
                )
            movers.update(missing)
            for user_id in sorted(movers):
                counts = unread_count(
                    user=user_id, room_id=room_id, last_read_id=message_id, top_id=tops[room_id]
                )
                moved[(user_id, room_id)] = counts
                if publish:
                    publish_on_commit(
                        protocol.user_group(user_id),
                        protocol.EVENT_READ,
                        protocol.read_frame(slugs[room_id], counts),
                    )
    return moved


async def _publish_reads(moved: dict[tuple[int, int], Unread], slugs: dict[int, str]) -> None:
    """The ``read`` frames of a written batch (committed already), paced over the next
    batch period and beside the ordered publisher, not in it. Sent at once, a second's
    worth of cursors would queue ahead of the messages behind them, in the publisher and
    in every hub's channel; their order among messages does not matter."""
    gap = settings.CHAT_READ_BATCH_SECONDS / max(1, len(moved))
    for (user_id, room_id), counts in moved.items():
        await publish_now(
            protocol.user_group(user_id),
            protocol.EVENT_READ,
            protocol.read_frame(slugs[room_id], counts),
        )
        await asyncio.sleep(gap)


class _ReadBatch:
    """The ``read`` frames of one process, written together every CHAT_READ_BATCH_SECONDS.

    A room of 1,000 readers watching messages arrive sends up to 1,000 reads a second;
    written one by one that is 1,000 transactions a second, the SQLite writer's whole
    capacity. Together they are one transaction and, for readers at the bottom, one
    UPDATE per room."""

    def __init__(self) -> None:
        self.marks: dict[tuple[int, int], int] = {}
        self.slugs: dict[int, str] = {}
        self.flushing: asyncio.Task[None] | None = None
        self.sending: asyncio.Task[None] | None = None

    def add(self, user_id: int, room: Room, message_id: int) -> None:
        self.slugs[room.pk] = room.slug
        key = (user_id, room.pk)
        self.marks[key] = max(message_id, self.marks.get(key, 0))
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.ensure_future(self.flush_later())

    async def flush_later(self) -> None:
        await asyncio.sleep(settings.CHAT_READ_BATCH_SECONDS)
        marks, self.marks = self.marks, {}
        try:
            moved = await database_sync_to_async(read_marks)(marks=marks, publish=False)
        except Exception:  # a cursor is not worth a crash; the next read moves it
            logger.exception("writing %d read cursors failed", len(marks))
            moved = {}
        # Sent while the next batch gathers (paced over about one period).
        self.sending = asyncio.ensure_future(_publish_reads(moved, dict(self.slugs)))
        if self.marks:
            self.flushing = asyncio.ensure_future(self.flush_later())


_read_batches = PerLoop(_ReadBatch)


async def read_mark_soon(*, user: Any, room: Room, message_id: int) -> None:
    """``read_mark``, batched with this process's other reads (see ``_ReadBatch``); at
    once when CHAT_READ_BATCH_SECONDS is 0."""
    if settings.CHAT_READ_BATCH_SECONDS <= 0:
        await database_sync_to_async(read_mark)(user=user, room=room, message_id=message_id)
        return
    _read_batches.get().add(user.pk, room, message_id)


def room_prune(*, room: Room) -> int:
    """Apply the room's retention now (after it was lowered, say); returns how many went.

    Like pruning on post, this is storage policy: open pages keep what they have shown.
    """
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        return _prune(room)


def user_mute(*, room: Room, user: Any, created_by: Any = None, reason: str = "") -> Mute:
    """Mute a user in a room; their open pages of it disable the composer at once."""
    with transaction.atomic():
        mute, _created = Mute.objects.update_or_create(
            room=room, user=user, defaults={"created_by": created_by, "reason": reason}
        )
        _publish_muted(room, user, muted=True)
    return mute


def user_unmute(*, room: Room, user: Any) -> bool:
    with transaction.atomic():
        removed = Mute.objects.filter(room=room, user=user).delete()[0] > 0
        if removed:
            _publish_muted(room, user, muted=False)
    return removed


def _publish_muted(room: Room, user: Any, *, muted: bool) -> None:
    publish_on_commit(
        protocol.user_group(user.pk),
        protocol.EVENT_MUTED,
        protocol.muted_frame(room.slug, muted),
        extra={"room_id": room.pk, "muted": muted},
    )


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


# What a refusal says, by the kind of write.
_TOO_FAST = {
    "post": "posting",
    "edit": "editing messages",
    "delete": "deleting messages",
    "reaction": "reacting",
    "typing": "typing",
}


async def write_allowed(*, user: Any, action: str) -> None:
    """The per-account limit on every write that reaches other people (``action``: a key
    of CHAT_WRITE_COSTS), across all of the user's sockets and processes (each socket
    also has its own frame limit): thirty tabs write no faster than one. One budget,
    counted in posts; each kind of write costs its weight."""
    cost = settings.CHAT_WRITE_COSTS[action]
    if cost <= 0:
        return
    allowed = await account_take(
        action="chat.write",
        key=user.pk,
        rate=settings.CHAT_POST_RATE_PER_SECOND,
        burst=settings.CHAT_POST_BURST,
        cost=cost,
    )
    if not allowed:
        raise ActionError(
            ErrorCode.RATE_LIMITED, f"you are {_TOO_FAST[action]} too fast; slow down"
        )


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
