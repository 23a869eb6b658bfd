"""Every frame of the chat sockets, defined once. docs/protocol.md describes them."""

from __future__ import annotations

from typing import Any

from chat.models import Message, Room
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    PING,
    USER,
    ClientFrame,
    Field,
    Maybe,
    ServerFrame,
    frame_registry,
    id_field,
    server_registry,
)

# Transport bound only; the service enforces CHAT_MAX_MESSAGE_LENGTH with a clear message.
BODY_TRANSPORT_LIMIT = 20_000

NONCE_MAX_LENGTH = 64
EMOJI_MAX_LENGTH = 16

ROOM_CLIENT_FRAMES = frame_registry(
    PING,
    ClientFrame(
        "message.send",
        {
            "body": Field(str, max_length=BODY_TRANSPORT_LIMIT),
            "nonce": Field(str, required=False, max_length=NONCE_MAX_LENGTH),
        },
    ),
    ClientFrame(
        "message.edit", {"id": id_field(), "body": Field(str, max_length=BODY_TRANSPORT_LIMIT)}
    ),
    ClientFrame("message.delete", {"id": id_field()}),
    ClientFrame(
        "reaction.toggle", {"id": id_field(), "emoji": Field(str, max_length=EMOJI_MAX_LENGTH)}
    ),
    ClientFrame("read", {"id": id_field()}, ack=False),
    ClientFrame("history", {"before_id": id_field()}),
    ClientFrame("newer", {"after_id": id_field()}),
    ClientFrame("context", {"id": id_field()}),
    ClientFrame("typing", ack=False),
)
LOBBY_CLIENT_FRAMES = frame_registry(PING)

# Channel-layer event types (handled by Consumer.chat_<name>).
EVENT_MESSAGE = "chat.message"
EVENT_UPDATED = "chat.updated"
EVENT_DELETED = "chat.deleted"
EVENT_PRESENCE = "chat.presence"
EVENT_TYPING = "chat.typing"
EVENT_ROOM_ONLINE = "chat.room_online"
EVENT_ACTIVITY = "chat.room_activity"
EVENT_READ = "chat.read"
EVENT_MUTED = "chat.muted"

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


def user_payload(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username()}


def message_payload(message: Message) -> dict[str, Any]:
    edited_at = message.edited_at
    return {
        "id": message.pk,
        "seq": message.seq,
        "author": {"id": message.author_id, "username": message.author.get_username()},
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "edited_at": edited_at.isoformat() if edited_at is not None else None,
        "reactions": [
            {"emoji": emoji, "users": [{"id": uid, "username": name} for uid, name in users]}
            for emoji, users in message.reactions.items()
        ],
    }


def room_payload(room: Room) -> dict[str, Any]:
    return {"slug": room.slug, "title": room.title, "description": room.description}


def message_frame(message: Message) -> dict[str, Any]:
    return {"type": "message", "message": message_payload(message)}


def updated_frame(message: Message) -> dict[str, Any]:
    return {"type": "message.updated", "message": message_payload(message)}


def deleted_frame(ids: list[int], seq: int) -> dict[str, Any]:
    return {"type": "message.deleted", "ids": ids, "seq": seq}


def activity_frame(slug: str, message: Message, mentions: list[int]) -> dict[str, Any]:
    return {
        "type": "room.activity",
        "slug": slug,
        "id": message.pk,
        "author_id": message.author_id,
        "mentions": mentions,
    }


def read_frame(slug: str, counts: Any) -> dict[str, Any]:
    return {
        "type": "read",
        "room": slug,
        "last_read_id": counts.last_read_id,
        "unread": counts.unread,
        "mentions": counts.mentions,
    }


def muted_frame(slug: str, muted: bool) -> dict[str, Any]:
    return {"type": "muted", "room": slug, "muted": muted}


def presence_frame(
    joined: list[dict[str, Any]], left: list[dict[str, Any]], online_count: int
) -> dict[str, Any]:
    return {"type": "presence", "joined": joined, "left": left, "online_count": online_count}


def typing_frame(user: dict[str, Any], expires_in_ms: int) -> dict[str, Any]:
    return {"type": "typing", "user": user, "expires_in": expires_in_ms}


def room_online_frame(slug: str, online: int) -> dict[str, Any]:
    return {"type": "room.online", "slug": slug, "online": online}


# ---------------------------------------------------------------- server frames

MESSAGE = {
    "id": int,
    "seq": int,
    "author": USER,
    "body": str,
    "created_at": str,
    "edited_at": (str, None),
    "reactions": [{"emoji": str, "users": [USER]}],
}
ROOM = {"slug": str, "title": str, "description": str}
READ = {"room": str, "last_read_id": int, "unread": int, "mentions": int}
MUTED = {"room": str, "muted": bool}

ROOM_SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame(
        "sync",
        {
            "mode": str,
            "cursor": int,
            "room": ROOM,
            "messages": [MESSAGE],
            "deleted": [int],
            "has_more": Maybe(bool),
            "online": [USER],
            "online_count": int,
            "me": (USER, None),
            "muted": bool,
            "last_read_id": (int, None),
            "limits": {
                "max_length": int,
                "typing_timeout_ms": int,
                "edit_window_s": int,
                "reactions": [str],
            },
        },
    ),
    ServerFrame("message", {"message": MESSAGE}),
    ServerFrame("message.updated", {"message": MESSAGE}),
    ServerFrame("message.deleted", {"ids": [int], "seq": int}),
    ServerFrame("history", {"messages": [MESSAGE], "has_more": bool}),
    ServerFrame("newer", {"messages": [MESSAGE], "has_more": bool}),
    ServerFrame(
        "context",
        {
            "id": int,
            "found": bool,
            "messages": [MESSAGE],
            "has_older": bool,
            "has_newer": bool,
        },
    ),
    ServerFrame("presence", {"joined": [USER], "left": [USER], "online_count": int}),
    ServerFrame("typing", {"user": USER, "expires_in": int}),
    ServerFrame("read", READ),
    ServerFrame("muted", MUTED),
)
LOBBY_SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame(
        "rooms",
        {
            "rooms": [
                {
                    **ROOM,
                    "online": int,
                    "unread": (int, None),
                    "mentions": (int, None),
                    "counted_to": (int, None),
                }
            ],
            "me": (USER, None),
        },
    ),
    ServerFrame("room.online", {"slug": str, "online": int}),
    ServerFrame("room.activity", {"slug": str, "id": int, "author_id": int, "mentions": [int]}),
    ServerFrame("read", READ),
)


def rooms_frame(
    rooms: list[Room], online: list[int], unread: dict[int, Any], me: Any
) -> dict[str, Any]:
    """The room list; ``unread`` (by room id) has the counts of the rooms the user has
    opened, with the newest message id counted (later activity adds to them)."""

    def counts(room: Room) -> dict[str, int | None]:
        state = unread.get(room.pk)
        if state is None:
            return {"unread": None, "mentions": None, "counted_to": None}
        return {"unread": state.unread, "mentions": state.mentions, "counted_to": state.top_id}

    return {
        "type": "rooms",
        "rooms": [
            {**room_payload(room), "online": count, **counts(room)}
            for room, count in zip(rooms, online, strict=True)
        ],
        "me": user_payload(me) if me is not None else None,
    }


def history_frame(
    messages: list[Message], has_more: bool, *, kind: str = "history"
) -> dict[str, Any]:
    return {
        "type": kind,
        "messages": [message_payload(m) for m in messages],
        "has_more": has_more,
    }


def context_frame(message_id: int, context: Any) -> dict[str, Any]:
    return {
        "type": "context",
        "id": message_id,
        "found": context.found,
        "messages": [message_payload(m) for m in context.messages],
        "has_older": context.has_older,
        "has_newer": context.has_newer,
    }


def sync_frame(
    *,
    mode: str,
    cursor: int,
    room: Room,
    messages: list[dict[str, Any]],
    deleted: list[int],
    has_more: bool | None,
    online: list[dict[str, Any]],
    online_count: int,
    me: Any,
    muted: bool,
    last_read_id: int | None,
    limits: dict[str, Any],
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "sync",
        "mode": mode,
        "cursor": cursor,
        "room": room_payload(room),
        "messages": messages,
        "deleted": deleted,
        "online": online,
        "online_count": online_count,
        "me": user_payload(me) if me is not None else None,
        "muted": muted,
        "last_read_id": last_read_id,
        "limits": limits,
    }
    if has_more is not None:
        frame["has_more"] = has_more
    return frame
