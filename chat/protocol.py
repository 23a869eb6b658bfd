"""Every frame of the chat sockets, declared once. docs/protocol.md describes them.

The groups they are broadcast to are named in ``chat.groups``, and the objects frames
carry (a message, a room, a member) are declared in ``chat.payloads``; both are
re-exported here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from django.utils import timezone

from chat.groups import (
    ACTIVITY_GROUP,
    LOBBY_GROUP,
    activity_group,
    online_group,
    private_activity_group,
    room_group,
    room_presence,
    user_group,
)
from chat.models import TOPIC_MAX, Message, Role, Room
from chat.payloads import (
    REPLY_QUOTE_MAX,
    AttachmentData,
    MemberData,
    MessageData,
    ReactionData,
    ReplyData,
    RoomData,
    attachments_of,
    quote_line,
    user_of,
)
from chat.selectors import direct_title
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
# Transport bound only; the service enforces CHAT_UPLOAD_MAX_FILES with a clear message.
ATTACHMENTS_TRANSPORT_LIMIT = 50
EMOJI_MAX_LENGTH = 16

Body = Annotated[
    str,
    Meta(
        max_length=BODY_TRANSPORT_LIMIT,
        description="string, at most `CHAT_MAX_MESSAGE_LENGTH` characters once cleaned",
    ),
]
MessageId = Annotated[Id, Meta(description="message id")]
Username = Annotated[str, Meta(max_length=150, description="a username")]
RoleName = Annotated[str, Meta(max_length=16, description="`owner`, `moderator` or `member`")]

__all__ = [
    "ACTIVITY_GROUP",
    "LOBBY_GROUP",
    "REPLY_QUOTE_MAX",
    "AttachmentData",
    "MemberData",
    "MessageData",
    "ReactionData",
    "ReplyData",
    "RoomData",
    "activity_group",
    "attachments_of",
    "online_group",
    "private_activity_group",
    "quote_line",
    "room_group",
    "room_presence",
    "user_group",
    "user_of",
]

# What the pages check before sending (static/realtime/protocol.js, generated).
JS_LIMITS = {
    "BODY_TRANSPORT_LIMIT": BODY_TRANSPORT_LIMIT,
    "NONCE_MAX_LENGTH": NONCE_MAX_LENGTH,
    "EMOJI_MAX_LENGTH": EMOJI_MAX_LENGTH,
    "REPLY_QUOTE_MAX": REPLY_QUOTE_MAX,
}

# ---------------------------------------------------------------- client frames


class MessageSend(ClientFrame, tag="message.send"):
    """Who: logged in, not muted; in a direct conversation, not blocked by another of its
    people; `reply_to`: a message of this room, not deleted
    Reply: `ack` (with the message `id`) to the sender, `message` to the room. With
    `attachments` (ids of the sender's uploads to this room not sent yet, from `POST
    /chat/<slug>/files/`), the `body` may be empty"""

    body: Body
    nonce: Annotated[str, Meta(max_length=NONCE_MAX_LENGTH)] = ""
    reply_to: Annotated[Id, Meta(description="the id of the message this one answers")] | None = (
        None
    )
    attachments: Annotated[
        list[Id],
        Meta(max_length=ATTACHMENTS_TRANSPORT_LIMIT, description="list of upload ids"),
    ] = []


class MessageEdit(ClientFrame, tag="message.edit"):
    """Who: the author, within `CHAT_EDIT_WINDOW_SECONDS`, not muted; in a direct
    conversation, not blocked by another of its people
    Reply: `ack`; `message.updated` to the room"""

    id: MessageId
    body: Body


class MessageDelete(ClientFrame, tag="message.delete"):
    """Who: the author; the room's owners and moderators (staff too, in a public room)
    Reply: `ack`; `message.deleted` to the room"""

    id: MessageId


class ReactionToggle(ClientFrame, tag="reaction.toggle"):
    """Who: logged in, not muted; in a direct conversation, not blocked by another of its
    people
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


class MembersList(ClientFrame, tag="members"):
    """Who: anyone who may read the room
    Reply: `members` (owners first, then by name; at most `CHAT_MEMBERS_LIST_LIMIT`)"""


class MemberInvite(ClientFrame, tag="member.invite"):
    """Who: the room's owners and moderators (moderators invite members only), not blocked
    by the person invited
    Reply: `ack`; `member` to the room; `room.added` to the invited user's room lists"""

    username: Username
    role: RoleName = Role.MEMBER


class MemberRemove(ClientFrame, tag="member.remove"):
    """Who: the room's owners and moderators (moderators remove members only)
    Reply: `ack`; `member` (role null) to the room; `removed` to the user's pages of the
    room, which then close (code 4410), and `room.removed` to their room lists"""

    username: Username


class MemberRole(ClientFrame, tag="member.role"):
    """Who: the room's owners (a room keeps at least one)
    Reply: `ack`; `member` to the room"""

    username: Username
    role: RoleName


class RoomEdit(ClientFrame, tag="room.edit"):
    """Who: the room's owners and moderators (staff too, in a public room)
    Reply: `ack`; `room.updated` to the room"""

    topic: Annotated[str, Meta(max_length=TOPIC_MAX * 2, description="the room's topic")]
    description: Annotated[
        str, Meta(max_length=4000, description="at most 1,000 characters once cleaned")
    ]


class RoomLeave(ClientFrame, tag="room.leave"):
    """Who: logged in. Leaving a public room stops its counts; leaving a private one ends
    the membership (not one held through the room's group), and a room's only owner
    cannot leave
    Reply: `ack`; `room.removed` to the user's room lists; a private room's pages get
    `removed` and close (code 4410)"""

    slug: Annotated[str, Meta(max_length=64, description="the room's slug")]


class DirectOpen(ClientFrame, tag="direct.open"):
    """Who: logged in, not blocked by any of them (at most `CHAT_DIRECT_MAX_PEOPLE` people
    in all)
    Reply: `direct` (the conversation to open: the one they have, or a new one, which
    every member's room list gains with `room.added`)"""

    usernames: Annotated[
        str,
        Meta(max_length=2000, description="the other people's usernames, separated by commas"),
    ]


class UserBlock(ClientFrame, tag="user.block"):
    """Who: logged in
    Reply: `ack`; `blocks` to the user's chat pages"""

    username: Username
    blocked: bool


class MemberMute(ClientFrame, tag="member.mute"):
    """Who: the room's owners and moderators (staff too, in a public room); not an owner
    or a moderator by a moderator
    Reply: `ack`; `muted` to the person's pages of the room"""

    username: Username
    muted: bool
    minutes: Annotated[int, Meta(ge=0, le=525_600, description="how long; 0: until lifted")] = 0


ROOM_CLIENT_FRAMES = client_frames(
    Ping,
    MemberMute,
    DirectOpen,
    UserBlock,
    MembersList,
    MemberInvite,
    MemberRemove,
    MemberRole,
    RoomEdit,
    RoomLeave,
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


LOBBY_CLIENT_FRAMES = client_frames(Ping, RoomJoin, RoomLeave, DirectOpen, UserBlock)

# ---------------------------------------------------------------- server frames


class Members(ServerFrame, tag="members"):
    members: list[MemberData]
    count: int


class MemberChanged(ServerFrame, tag="member"):
    """Someone joined the room's members, changed role, or left them (``role`` null)."""

    event: ClassVar[str] = "chat.member"
    user: User
    role: str | None


class RoomUpdated(ServerFrame, tag="room.updated"):
    event: ClassVar[str] = "chat.room_updated"
    room: RoomData


class Direct(ServerFrame, tag="direct"):
    """The direct conversation asked for (``direct.open``): where to go."""

    slug: str
    url: str


class Blocks(ServerFrame, tag="blocks"):
    """Whom the user blocks now (to every chat page of theirs)."""

    event: ClassVar[str] = "chat.blocks"
    ids: list[int]


class Removed(ServerFrame, tag="removed"):
    """The viewer is no longer a member of this private room (removed, or left in
    another tab): the page closes the room; the socket closes with 4410 after it."""

    event: ClassVar[str] = "chat.removed"
    room: str
    message: str


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
    # The viewer's role in the room (null: not a member, or a visitor), and whether they
    # may invite, remove, edit the room and delete others' messages.
    role: str | None
    manages: bool
    # Whom the viewer blocked: their messages are folded away on the page.
    blocked: list[int]
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
    kind: str  # "room", or "direct": a direct conversation, titled by the others' names
    title: str
    description: str
    private: bool
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
                    kind=room.kind,
                    title=direct_title(room, me),
                    description=room.description,
                    private=room.private,
                    online=count,
                    unread=None if state is None else state.unread,
                    mentions=None if state is None else state.mentions,
                    counted_to=None if state is None else state.top_id,
                )
            )
        return cls(rooms=listed, me=user_of(me) if me is not None else None)


class RoomAdded(ServerFrame, tag="room.added"):
    """A room the user may now see and counts (invited, or joined in another tab)."""

    event: ClassVar[str] = "chat.room_added"
    room: RoomListed


class RoomRemoved(ServerFrame, tag="room.removed"):
    """A room the user left or was removed from: a private one goes from the list; a
    public one stays, no longer counted."""

    event: ClassVar[str] = "chat.room_removed"
    slug: str
    private: bool


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
    Members,
    MemberChanged,
    RoomUpdated,
    Removed,
    Direct,
    Blocks,
)
LOBBY_SERVER_FRAMES = server_frames(
    *COMMON_SERVER_FRAMES,
    Rooms,
    RoomOnline,
    RoomActivity,
    Read,
    RoomAdded,
    RoomRemoved,
    Direct,
    Blocks,
)
