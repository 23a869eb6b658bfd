"""Every frame of the chat sockets, defined once. docs/protocol.md describes them."""

from __future__ import annotations

from typing import Any

from chat.models import Message, Room
from rtsite.protocol import (
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

ROOM_CLIENT_FRAMES = frame_registry(
    PING,
    ClientFrame("message.send", {"body": Field(str, max_length=BODY_TRANSPORT_LIMIT)}),
    ClientFrame("history", {"before_id": id_field()}),
    ClientFrame("typing", ack=False),
)
LOBBY_CLIENT_FRAMES = frame_registry(PING)

# Channel-layer event types (handled by Consumer.chat_<name>).
EVENT_MESSAGE = "chat.message"
EVENT_DELETED = "chat.deleted"
EVENT_PRESENCE = "chat.presence"
EVENT_TYPING = "chat.typing"
EVENT_ROOM_ONLINE = "chat.room_online"

# Hub groups (where broadcasts go) and presence rooms (who is online), named here only.
LOBBY_GROUP = "chat.lobby"


def room_group(room_id: int) -> str:
    # By id, not slug: a renamed room keeps its open sockets.
    return f"chat.room.{room_id}"


def room_presence(room_id: int) -> str:
    return f"chat-room.{room_id}"


def user_payload(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username()}


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "author": {"id": message.author_id, "username": message.author.get_username()},
        "body": message.body,
        "created_at": message.created_at.isoformat(),
    }


def room_payload(room: Room) -> dict[str, Any]:
    return {"slug": room.slug, "title": room.title, "description": room.description}


def message_frame(message: Message) -> dict[str, Any]:
    return {"type": "message", "message": message_payload(message)}


def deleted_frame(ids: list[int]) -> dict[str, Any]:
    return {"type": "message.deleted", "ids": ids}


def presence_frame(
    joined: list[dict[str, Any]], left: list[dict[str, Any]], online_count: int
) -> dict[str, Any]:
    return {"type": "presence", "joined": joined, "left": left, "online_count": online_count}


def typing_frame(user: dict[str, Any], expires_in_ms: int) -> dict[str, Any]:
    return {"type": "typing", "user": user, "expires_in": expires_in_ms}


def room_online_frame(slug: str, online: int) -> dict[str, Any]:
    return {"type": "room.online", "slug": slug, "online": online}


# ---------------------------------------------------------------- server frames

MESSAGE = {"id": int, "author": USER, "body": str, "created_at": str}
ROOM = {"slug": str, "title": str, "description": str}

ROOM_SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame(
        "sync",
        {
            "mode": str,
            "room": ROOM,
            "messages": [MESSAGE],
            "has_more": Maybe(bool),
            "online": [USER],
            "online_count": int,
            "me": (USER, None),
            "limits": {"max_length": int, "typing_timeout_ms": int},
        },
    ),
    ServerFrame("message", {"message": MESSAGE}),
    ServerFrame("history", {"messages": [MESSAGE], "has_more": bool}),
    ServerFrame("message.deleted", {"ids": [int]}),
    ServerFrame("presence", {"joined": [USER], "left": [USER], "online_count": int}),
    ServerFrame("typing", {"user": USER, "expires_in": int}),
)
LOBBY_SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame("rooms", {"rooms": [{**ROOM, "online": int}]}),
    ServerFrame("room.online", {"slug": str, "online": int}),
)


def rooms_frame(rooms: list[Room], online: list[int]) -> dict[str, Any]:
    return {
        "type": "rooms",
        "rooms": [
            {**room_payload(room), "online": count}
            for room, count in zip(rooms, online, strict=True)
        ],
    }


def history_frame(messages: list[Message], has_more: bool) -> dict[str, Any]:
    return {
        "type": "history",
        "messages": [message_payload(m) for m in messages],
        "has_more": has_more,
    }


def sync_frame(
    *,
    mode: str,
    room: Room,
    messages: list[dict[str, Any]],
    has_more: bool | None,
    online: list[dict[str, Any]],
    online_count: int,
    me: Any,
    max_length: int,
    typing_timeout_ms: int,
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "sync",
        "mode": mode,
        "room": room_payload(room),
        "messages": messages,
        "online": online,
        "online_count": online_count,
        "me": user_payload(me) if me is not None else None,
        "limits": {"max_length": max_length, "typing_timeout_ms": typing_timeout_ms},
    }
    if has_more is not None:
        frame["has_more"] = has_more
    return frame
