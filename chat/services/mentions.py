"""Mentions: the notification a mention sends, kept in step with its message."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from chat.models import Kind as RoomKind
from chat.models import Membership, Mention, Message
from chat.selectors import mentioned_users, room_notifications_muters
from notifications.models import Kind
from notifications.services import TITLE_MAX, notification_fold, times

MENTION_BODY_MAX = 300
MENTION_DELETED = "This message was deleted."


def mention_subject(message_id: int) -> str:
    return f"chat.message:{message_id}"


def mentions_notify(message: Message) -> list[Any]:
    """Tell each ``@username`` in the message, with a link to it (same transaction), and
    note the mention for their unread counts. Repeats from one author in one room fold
    into one notification per recipient (naming that room). Users who muted the room's
    notifications get none (the room list still counts the mention).

    In a direct conversation every message is for the others in it: it mentions them
    all, and notifies them as a direct message (the emails' "direct messages" kind)."""
    room = message.room
    direct = room.kind == RoomKind.DIRECT
    if direct:
        users = _others_in(message)
    else:
        users = mentioned_users(body=message.body, author=message.author, room=room)
    if not users:
        return []
    Mention.objects.bulk_create([Mention(message=message, user=user, room=room) for user in users])
    author = message.author.get_username()
    link = reverse("chat:room_detail", args=[room.slug]) + f"#m{message.pk}"
    muted = room_notifications_muters(room=room, user_ids=[user.pk for user in users])
    for user in users:
        if user.pk in muted:
            continue
        if direct:
            notification_fold(
                key=f"direct:{message.author_id}:{room.pk}",
                user=user,
                title=lambda n: f"{author} sent you {_messages(n)}"[:TITLE_MAX],
                body=message.body[:MENTION_BODY_MAX],
                link=link,
                created_by=message.author,
                subject=mention_subject(message.pk),
                kind=Kind.DIRECT,
            )
            continue
        notification_fold(
            key=f"mention:{message.author_id}:{room.pk}",
            user=user,
            title=lambda n: f"{author} mentioned you{times(n)} in {room.title}"[:TITLE_MAX],
            body=message.body[:MENTION_BODY_MAX],
            link=link,
            created_by=message.author,
            subject=mention_subject(message.pk),
            kind=Kind.MENTION,
        )
    return users


def _messages(n: int) -> str:
    return "a direct message" if n == 1 else f"{n} direct messages"


def _others_in(message: Message) -> list[Any]:
    """The other members of a direct conversation, active ones."""
    others = Membership.objects.filter(room=message.room, user__is_active=True).exclude(
        user=message.author_id
    )
    return [membership.user for membership in others.select_related("user").order_by("user_id")]
