"""The objects chat frames carry (a message with its reply and files, a room, a member),
declared once; ``chat.protocol`` declares the frames and re-exports these."""

from __future__ import annotations

from typing import Any

from chat.models import Attachment, Message, Room
from realtime.protocol import Payload, User

# A reply shows this much of its original's first line (the pages cut an edited
# original's text the same way: static/chat/text.js quoteLine).
REPLY_QUOTE_MAX = 120


def user_of(user: Any) -> User:
    return User(id=user.pk, username=user.get_username())


class ReactionData(Payload):
    emoji: str
    users: list[User]


def quote_line(body: str) -> str:
    """What a reply shows of its original: the first line, cut to REPLY_QUOTE_MAX
    characters (the last one then "…")."""
    line = body.split("\n", 1)[0]
    if len(line) > REPLY_QUOTE_MAX:
        line = line[: REPLY_QUOTE_MAX - 1] + "…"
    return line


class ReplyData(Payload):
    """The message a reply answers, as it is now. A page showing the reply keeps it
    current from the original's own `message.updated` / `message.deleted` frames (and a
    resume's), keeping the higher `seq`."""

    id: int
    seq: int  # the original's seq when read
    author: User | None  # None once it is deleted
    text: str  # its first line, cut (quote_line); "" once it is deleted
    deleted: bool  # deleted (or pruned): the reply says so

    @classmethod
    def of(cls, original_id: int, original: Message | None) -> ReplyData:
        if original is None or original.deleted_at is not None:
            seq = original.seq if original is not None else 0
            return cls(id=original_id, seq=seq, author=None, text="", deleted=True)
        return cls(
            id=original_id,
            seq=original.seq,
            author=User(id=original.author_id, username=original.author.get_username()),
            text=quote_line(original.body),
            deleted=False,
        )


class AttachmentData(Payload):
    """A file of a message. ``type`` is read from its content; an image (``thumbnail``
    set) is shown inline at ``thumb_width`` x ``thumb_height``, its full size
    ``width`` x ``height`` at ``url``; another file is a download of ``size`` bytes."""

    id: int
    name: str
    size: int
    type: str
    url: str
    width: int | None
    height: int | None
    thumbnail: str | None
    thumb_width: int | None
    thumb_height: int | None

    @classmethod
    def of(cls, attachment: Attachment) -> AttachmentData:
        return cls(
            id=attachment.pk,
            name=attachment.name,
            size=attachment.size,
            type=attachment.content_type,
            url=attachment.get_absolute_url(),
            width=attachment.width,
            height=attachment.height,
            thumbnail=attachment.thumbnail_url(),
            thumb_width=attachment.thumb_width,
            thumb_height=attachment.thumb_height,
        )


def attachments_of(message: Message) -> list[AttachmentData]:
    files = message.known_attachments
    if files is None:  # prefetched by the selectors, or one query
        files = list(message.attachments.all()) if message.deleted_at is None else []
    return [AttachmentData.of(attachment) for attachment in files]


class MessageData(Payload):
    id: int
    seq: int
    author: User
    body: str
    created_at: str
    edited_at: str | None
    reactions: list[ReactionData]
    reply: ReplyData | None  # the message this one answers (null: not a reply)
    attachments: list[AttachmentData]

    @classmethod
    def of(cls, message: Message) -> MessageData:
        """``message`` read with ``reply_to__author`` (MESSAGE_RELATED): no query here."""
        edited_at = message.edited_at
        reply_to = message.reply_to_id
        return cls(
            id=message.pk,
            seq=message.seq,
            author=User(id=message.author_id, username=message.author.get_username()),
            body=message.body,
            created_at=message.created_at.isoformat(),
            edited_at=edited_at.isoformat() if edited_at is not None else None,
            reactions=[
                ReactionData(
                    emoji=emoji, users=[User(id=uid, username=name) for uid, name in users]
                )
                for emoji, users in message.reactions.items()
            ],
            reply=None if reply_to is None else ReplyData.of(reply_to, message.reply_to),
            attachments=attachments_of(message),
        )


class RoomData(Payload):
    slug: str
    kind: str  # "room" or "direct"
    title: str
    description: str
    topic: str
    private: bool

    @classmethod
    def of(cls, room: Room) -> RoomData:
        return cls(
            slug=room.slug,
            kind=room.kind,
            title=room.title,
            description=room.description,
            topic=room.topic,
            private=room.private,
        )


class MemberData(Payload):
    id: int
    username: str
    role: str
    # A member through the room's group only: removed from the group, not from the room.
    through_group: bool
