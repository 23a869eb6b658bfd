"""Every frame of the chat sockets, declared once. docs/protocol.md describes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from django.utils import timezone

from chat.models import Message, Room
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    UNSET,
    ClientFrame,
    Id,
    Meta,
    Payload,
    Ping,
    ServerFrame,
    UnsetType,
    User,
    client_frames,
    server_frames,
)

# Transport bound only; the service enforces CHAT_MAX_MESSAGE_LENGTH with a clear message.
BODY_TRANSPORT_LIMIT = 20_000

NONCE_MAX_LENGTH = 64
EMOJI_MAX_LENGTH = 16

Body = Annotated[
    str,
    Meta(
        max_length=BODY_TRANSPORT_LIMIT,
        description="string, at most `CHAT_MAX_MESSAGE_LENGTH` characters once cleaned",
    ),
]
MessageId = Annotated[Id, Meta(description="message id")]

# What the pages check before sending (static/realtime/protocol.js, generated).
JS_LIMITS = {
    "BODY_TRANSPORT_LIMIT": BODY_TRANSPORT_LIMIT,
    "NONCE_MAX_LENGTH": NONCE_MAX_LENGTH,
    "EMOJI_MAX_LENGTH": EMOJI_MAX_LENGTH,
}

# ---------------------------------------------------------------- client frames


class MessageSend(ClientFrame, tag="message.send"):
    """Who: logged in, not muted
    Reply: `ack` (with the message `id`) to the sender, `message` to the room"""

    body: Body
    nonce: Annotated[str, Meta(max_length=NONCE_MAX_LENGTH)] = ""


class MessageEdit(ClientFrame, tag="message.edit"):
    """Who: the author, within `CHAT_EDIT_WINDOW_SECONDS`, not muted
    Reply: `ack`; `message.updated` to the room"""

    id: MessageId
    body: Body


class MessageDelete(ClientFrame, tag="message.delete"):
    """Who: the author
    Reply: `ack`; `message.deleted` to the room"""

    id: MessageId


class ReactionToggle(ClientFrame, tag="reaction.toggle"):
    """Who: logged in, not muted
    Reply: `ack`; `message.updated` to the room"""

    id: MessageId
    emoji: Annotated[
        str, Meta(max_length=EMOJI_MAX_LENGTH, description="one of `limits.reactions`")
    ]


class ReadUpTo(ClientFrame, tag="read"):
    """Who: logged in
    Reply: `read` to the user's pages (only if the cursor moved forward; within
    `CHAT_READ_BATCH_SECONDS`, the reads of a process being written together); no `ack`
    unless it has a `ref`. The cursor goes no further than the room's newest message: an
    id past it (another room's, or made up) moves it there, not beyond (the cursor never
    moves back, so it would hide the room's next messages from the counts for good)"""

    ack: ClassVar[bool] = False
    id: Annotated[Id, Meta(description="the newest message id the page has shown while visible")]


class HistoryBefore(ClientFrame, tag="history"):
    """Who: anyone who may read
    Reply: `history`"""

    before_id: Id


class NewerAfter(ClientFrame, tag="newer"):
    """Who: anyone who may read
    Reply: `newer`"""

    after_id: Id


class ContextOf(ClientFrame, tag="context"):
    """Who: anyone who may read
    Reply: `context`"""

    id: MessageId


class Typing(ClientFrame, tag="typing"):
    """Who: logged in, not muted
    Reply: `typing` to the room (at most once a second per socket; more is dropped without
    a reply, or acked if it has a `ref`); `ack` only with a `ref`; `error`
    (`rate_limited`) past the account's write budget"""

    ack: ClassVar[bool] = False


ROOM_CLIENT_FRAMES = client_frames(
    Ping,
    MessageSend,
    MessageEdit,
    MessageDelete,
    ReactionToggle,
    ReadUpTo,
    HistoryBefore,
    NewerAfter,
    ContextOf,
    Typing,
)


class RoomJoin(ClientFrame, tag="room.join"):
    """Who: logged in (on the room list)
    Reply: `ack`; `read` (the room's counts, from now on) to the user's pages"""

    slug: Annotated[str, Meta(max_length=64, description="the room's slug")]


LOBBY_CLIENT_FRAMES = client_frames(Ping, RoomJoin)

# Hub groups (where broadcasts go) and presence rooms (who is online), named here only.
LOBBY_GROUP = "chat.lobby"
# The room list's logged-in sockets: what was posted where, and whom it mentions (for
# their unread and mention counts). Visitors have no counts, and are told none of it.
ACTIVITY_GROUP = "chat.activity"


def room_group(room_id: int) -> str:
    # By id, not slug: a renamed room keeps its open sockets.
    return f"chat.room.{room_id}"


def room_presence(room_id: int) -> str:
    return f"chat-room.{room_id}"


def user_group(user_id: int) -> str:
    # A user's chat pages (rooms and the room list): read cursors and mutes.
    return f"chat.user.{user_id}"


# ---------------------------------------------------------------- server frames


def user_of(user: Any) -> User:
    return User(id=user.pk, username=user.get_username())


class ReactionData(Payload):
    emoji: str
    users: list[User]


class MessageData(Payload):
    id: int
    seq: int
    author: User
    body: str
    created_at: str
    edited_at: str | None
    reactions: list[ReactionData]

    @classmethod
    def of(cls, message: Message) -> MessageData:
        edited_at = message.edited_at
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
        )


class RoomData(Payload):
    slug: str
    title: str
    description: str

    @classmethod
    def of(cls, room: Room) -> RoomData:
        return cls(slug=room.slug, title=room.title, description=room.description)


class Limits(Payload):
    max_length: int
    typing_timeout_ms: int
    edit_window_s: int
    reactions: list[str]


class Sync(ServerFrame, tag="sync"):
    mode: str
    cursor: int
    room: RoomData
    messages: list[MessageData]
    deleted: list[int]
    online: list[User]
    online_count: int
    me: User | None
    muted: bool
    # ms until the viewer's mute lapses by itself (the page re-enables posting then);
    # None: not muted, or until staff lift it.
    mute_expires_in: int | None
    last_read_id: int | None
    limits: Limits
    has_more: bool | UnsetType = UNSET  # absent on a resume


class NewMessage(ServerFrame, tag="message"):
    event: ClassVar[str] = "chat.message"
    message: MessageData


class MessageUpdated(ServerFrame, tag="message.updated"):
    event: ClassVar[str] = "chat.updated"
    message: MessageData


class MessagesDeleted(ServerFrame, tag="message.deleted"):
    event: ClassVar[str] = "chat.deleted"
    ids: list[int]
    seq: int


class History(ServerFrame, tag="history"):
    messages: list[MessageData]
    has_more: bool

    @classmethod
    def of(cls, messages: list[Message], has_more: bool) -> History:
        return cls(messages=[MessageData.of(m) for m in messages], has_more=has_more)


class Newer(ServerFrame, tag="newer"):
    messages: list[MessageData]
    has_more: bool

    @classmethod
    def of(cls, messages: list[Message], has_more: bool) -> Newer:
        return cls(messages=[MessageData.of(m) for m in messages], has_more=has_more)


class Context(ServerFrame, tag="context"):
    id: int
    found: bool
    messages: list[MessageData]
    has_older: bool
    has_newer: bool

    @classmethod
    def of(cls, message_id: int, context: Any) -> Context:
        return cls(
            id=message_id,
            found=context.found,
            messages=[MessageData.of(m) for m in context.messages],
            has_older=context.has_older,
            has_newer=context.has_newer,
        )


class Presence(ServerFrame, tag="presence"):
    event: ClassVar[str] = "chat.presence"
    joined: list[User]
    left: list[User]
    online_count: int


class TypingNow(ServerFrame, tag="typing"):
    event: ClassVar[str] = "chat.typing"
    user: User
    expires_in: int  # ms


class Read(ServerFrame, tag="read"):
    """A user's read cursor in a room moved (to their room pages and room list)."""

    event: ClassVar[str] = "chat.read"
    room: str
    last_read_id: int
    unread: int
    mentions: int

    @classmethod
    def of(cls, slug: str, counts: Any) -> Read:
        return cls(
            room=slug,
            last_read_id=counts.last_read_id,
            unread=counts.unread,
            mentions=counts.mentions,
        )


class Muted(ServerFrame, tag="muted"):
    """The user was muted in a room, or the mute was lifted or changed (to their room
    pages and room list). ``expires_in``: ms until the mute lapses by itself, or None."""

    event: ClassVar[str] = "chat.muted"
    room: str
    muted: bool
    expires_in: int | None = None


def expires_in(until: datetime | None) -> int | None:
    """ms from now until ``until`` (at least 0), or None."""
    if until is None:
        return None
    return max(0, int((until - timezone.now()).total_seconds() * 1000))


class RoomListed(Payload):
    slug: str
    title: str
    description: str
    online: int
    unread: int | None
    mentions: int | None
    counted_to: int | None


class Rooms(ServerFrame, tag="rooms"):
    rooms: list[RoomListed]
    me: User | None

    @classmethod
    def of(cls, rooms: list[Room], online: list[int], unread: dict[int, Any], me: Any) -> Rooms:
        """The room list; ``unread`` (by room id) has the counts of the rooms the user has
        opened, with the newest message id counted (later activity adds to them)."""
        listed = []
        for room, count in zip(rooms, online, strict=True):
            state = unread.get(room.pk)
            listed.append(
                RoomListed(
                    slug=room.slug,
                    title=room.title,
                    description=room.description,
                    online=count,
                    unread=None if state is None else state.unread,
                    mentions=None if state is None else state.mentions,
                    counted_to=None if state is None else state.top_id,
                )
            )
        return cls(rooms=listed, me=user_of(me) if me is not None else None)


class RoomOnline(ServerFrame, tag="room.online"):
    event: ClassVar[str] = "chat.room_online"
    slug: str
    online: int


class RoomActivity(ServerFrame, tag="room.activity"):
    event: ClassVar[str] = "chat.room_activity"
    slug: str
    id: int
    author_id: int
    mentions: list[int]


ROOM_SERVER_FRAMES = server_frames(
    *COMMON_SERVER_FRAMES,
    Sync,
    NewMessage,
    MessageUpdated,
    MessagesDeleted,
    History,
    Newer,
    Context,
    Presence,
    TypingNow,
    Read,
    Muted,
)
LOBBY_SERVER_FRAMES = server_frames(*COMMON_SERVER_FRAMES, Rooms, RoomOnline, RoomActivity, Read)
