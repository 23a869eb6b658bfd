"""Mentions: the notification a mention sends, kept in step with its message."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from chat.models import Mention, Message
from chat.selectors import mentioned_users
from notifications.services import TITLE_MAX, notification_fold, times

MENTION_BODY_MAX = 300
MENTION_DELETED = "This message was deleted."


def mention_subject(message_id: int) -> str:
    return f"chat.message:{message_id}"


def mentions_notify(message: Message) -> list[Any]:
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
            subject=mention_subject(message.pk),
        )
    return users
