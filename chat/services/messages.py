"""Messages: post, edit, delete, react."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chat import protocol
from chat.models import (
    MESSAGE_RELATED,
    MUTE_IN_FORCE,
    Attachment,
    Block,
    Kind,
    Mention,
    Message,
    MessageEdit,
    Mute,
    Reaction,
    Room,
)
from chat.services.attachments import attachments_link
from chat.services.direct import direct_members_refuse
from chat.services.mentions import (
    MENTION_BODY_MAX,
    MENTION_DELETED,
    mention_subject,
    mentions_notify,
)
from chat.services.rooms import room_prune_locked
from common.sql import Compiled, CompiledUpdate
from common.text import clean_required
from notifications.services import notification_follow
from realtime.broadcast import publish_on_commit
from realtime.errors import ActionError, ErrorCode

# A room's columns, then whether the author is active and muted there: what every post
# reads first (``_locked_room``), compiled once (common.sql).
_ROOM_FIELDS = [field.attname for field in Room._meta.concrete_fields]
_ROOM_FOR_AUTHOR = Compiled(
    lambda p: (
        Room.objects.select_for_update()
        .filter(pk=p.room)
        .annotate(
            author_active=Exists(get_user_model().objects.filter(pk=p.author, is_active=True)),
            author_muted=Exists(
                Mute.objects.filter(MUTE_IN_FORCE, room=OuterRef("pk"), user=p.author)
            ),
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


def _locked_room(room: Room, author: Any) -> tuple[Room, bool]:
    """The room's row, locked until commit, and whether ``author`` is muted there. The
    row's change counter hands out ``seq`` in commit order (PostgreSQL; SQLite serialises
    writers anyway). The same query checks the account (refused if deactivated since the
    socket opened) and the mute: one query, not three, per post."""
    row = _ROOM_FOR_AUTHOR.first(room=room.pk, author=author.pk)
    if row is None:  # deleted since the socket opened
        raise ActionError(ErrorCode.NOT_FOUND, "This room no longer exists.")
    if not row[-2]:
        raise ActionError(ErrorCode.AUTH_REQUIRED, "Log in to post messages.")
    return Room.from_db(DEFAULT_DB_ALIAS, _ROOM_FIELDS, row[:-2]), bool(row[-1])


_SET_SEQ = CompiledUpdate(
    lambda p: (Room.objects.filter(pk=p.room), {"seq": p.seq}), room=int, seq=int
)


def _next_seq(room: Room) -> int:
    room.seq += 1
    _SET_SEQ.run(room=room.pk, seq=room.seq)
    return room.seq


def _check_author(author: Any) -> None:
    # Whether the account is still active is checked in the database on every action, by
    # ``_locked_room``: an account deactivated since the socket opened is refused at its
    # next message.
    if not getattr(author, "is_authenticated", False):
        raise ActionError(ErrorCode.AUTH_REQUIRED, "Log in to post messages.")


def _clean_body(body: str, *, may_be_empty: bool = False) -> str:
    body = clean_required(body)
    if not body and not may_be_empty:
        raise ActionError(ErrorCode.INVALID, "A message cannot be empty.")
    max_length = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(body) > max_length:
        raise ActionError(
            ErrorCode.TOO_LARGE,
            f"A message can be at most {max_length:,} characters long; this one has {len(body):,}.",
        )
    return body


def message_post(
    *,
    room: Room,
    author: Any,
    body: str,
    nonce: str = "",
    reply_to: int | None = None,
    attachments: Sequence[int] = (),
) -> Message:
    """Store a message (pruning what the room's policy no longer keeps) and broadcast it
    on commit. A send repeated to the same room with the same ``nonce`` (a retry after a
    lost ack) returns the stored message instead of storing it again. ``reply_to``: the
    id of the message it answers, shown (not deleted) in the same room. ``attachments``:
    ids of the author's pending uploads in the room, sent with it (then the text may be
    empty)."""
    _check_author(author)
    body = _clean_body(body, may_be_empty=bool(attachments))
    with transaction.atomic():
        room, muted = _locked_room(room, author)
        if nonce:
            sent = _SENT_WITH_NONCE.first(room=room.pk, author=author.pk, nonce=nonce)
            if sent is not None:
                return Message.objects.get(pk=sent[0])
        if muted:
            raise ActionError(ErrorCode.MUTED, "You are muted in this room.")
        if room.kind == Kind.DIRECT:
            direct_members_refuse(room=room, author=author)
        original = None
        if reply_to is not None:
            # Another room's message reads as one that is not there: nothing said of it.
            original = _shown(room, reply_to)
            if original is None:
                raise ActionError(
                    ErrorCode.NOT_FOUND, "The message you are replying to is no longer here."
                )
        message = Message.objects.create(
            room=room,
            author=author,
            body=body,
            nonce=nonce,
            seq=_next_seq(room),
            reply_to=original,
        )
        message.known_attachments = (
            attachments_link(message=message, ids=attachments) if attachments else []
        )
        room_prune_locked(room)
        publish_on_commit(
            protocol.room_group(room.pk),
            protocol.NewMessage(message=protocol.MessageData.of(message)),
            cursor=message.seq,
        )
        direct = room.kind == Kind.DIRECT
        mentioned = mentions_notify(message) if "@" in body or direct else []
        # The room list's unread and mention counts, kept live without a write per member.
        publish_on_commit(
            protocol.activity_group(room),
            protocol.RoomActivity(
                slug=room.slug,
                id=message.pk,
                author_id=message.author_id,
                mentions=[user.pk for user in mentioned],
            ),
        )
    return message


def _shown(room: Room, message_id: int) -> Message | None:
    return (
        Message.objects.filter(room=room, pk=message_id, deleted_at__isnull=True)
        .select_related(*MESSAGE_RELATED)
        .first()
    )


def _shown_message(room: Room, message_id: int) -> Message:
    message = _shown(room, message_id)
    if message is None:
        raise ActionError(ErrorCode.NOT_FOUND, "That message no longer exists.")
    return message


def _own_message(room: Room, user: Any, message_id: int, *, what: str) -> Message:
    message = _shown_message(room, message_id)
    if message.author_id != user.pk:
        raise ActionError(ErrorCode.FORBIDDEN, f"You can only {what} your own messages.")
    return message


def _publish_update(message: Message) -> None:
    publish_on_commit(
        protocol.room_group(message.room_id),
        protocol.MessageUpdated(message=protocol.MessageData.of(message)),
        cursor=message.seq,
    )


def message_edit(*, room: Room, user: Any, message_id: int, body: str) -> Message:
    """Change the text of one's own message within CHAT_EDIT_WINDOW_SECONDS; the text
    before is kept for staff. Open pages show the new text, "(edited)", at once, and so
    does a mention notification showing the message."""
    _check_author(user)
    body = _clean_body(body)
    with transaction.atomic():
        room, muted = _locked_room(room, user)
        message = _own_message(room, user, message_id, what="edit")
        if room.kind == Kind.DIRECT:
            direct_members_refuse(room=room, author=user)  # an edit is a message too
        window = settings.CHAT_EDIT_WINDOW_SECONDS
        if timezone.now() - message.created_at > timedelta(seconds=window):
            minutes = max(1, window // 60)
            raise ActionError(
                ErrorCode.FORBIDDEN,
                f"A message can be edited for {minutes} minute{'s' if minutes != 1 else ''}"
                " after it was sent.",
            )
        if muted:
            raise ActionError(ErrorCode.MUTED, "You are muted in this room.")
        if body == message.body:
            return message
        MessageEdit.objects.create(message=message, body=message.body)
        message.body = body
        message.edited_at = timezone.now()
        message.seq = _next_seq(room)
        message.save(update_fields=["body", "edited_at", "seq"])
        _publish_update(message)
        # Whoever blocked the author since keeps the text they were notified of: the new
        # one would reach them.
        notification_follow(
            subjects=[mention_subject(message.pk)],
            body=message.body[:MENTION_BODY_MAX],
            keep_for=Block.objects.filter(blocked=user).values_list("blocker_id", flat=True),
        )
    return message


def message_delete_own(*, room: Room, user: Any, message_id: int, manages: bool = False) -> None:
    """The author deletes their message; with ``manages`` (the room's owners and
    moderators, as their socket knows them), anyone's."""
    _check_author(user)
    with transaction.atomic():
        locked, _ = _locked_room(room, user)  # one's own messages can be deleted while muted
        if manages:
            message = _shown_message(locked, message_id)
        else:
            message = _own_message(locked, user, message_id, what="delete")
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
            # Their files leave the storage once this commits (attachment_deleted).
            Attachment.objects.filter(message_id__in=gone).delete()
            notification_follow(subjects=[mention_subject(pk) for pk in gone], body=MENTION_DELETED)
            deleted += len(gone)
            publish_on_commit(
                protocol.room_group(room_id),
                protocol.MessagesDeleted(ids=gone, seq=room.seq),
                cursor=room.seq,
                extra={"steps": len(gone)},  # one step of the room's seq per message
            )
    return deleted


def reaction_toggle(*, room: Room, user: Any, message_id: int, emoji: str) -> Message:
    """Add the user's reaction, or take it back if it is there; live for everyone."""
    _check_author(user)
    if emoji not in settings.CHAT_REACTIONS:
        raise ActionError(ErrorCode.INVALID, "That reaction is not offered here.")
    with transaction.atomic():
        room, muted = _locked_room(room, user)
        message = _shown_message(room, message_id)
        if muted:
            raise ActionError(ErrorCode.MUTED, "You are muted in this room.")
        if room.kind == Kind.DIRECT:
            direct_members_refuse(room=room, author=user)
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
