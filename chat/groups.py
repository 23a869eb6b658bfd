"""Hub groups (where chat broadcasts go) and presence rooms (who is online), named here
only."""

from __future__ import annotations

from chat.models import Room

LOBBY_GROUP = "chat.lobby"
# The room list's logged-in sockets: what was posted where, and whom it mentions (for
# their unread and mention counts). Visitors have no counts, and are told none of it.
ACTIVITY_GROUP = "chat.activity"


def activity_group(room: Room) -> str:
    """Where a room's activity and online counts go for the room list: every logged-in
    room list for a public room; a private room's own group, which only its members'
    room lists join (its slug and title are private too)."""
    return private_activity_group(room.pk) if room.private else ACTIVITY_GROUP


def private_activity_group(room_id: int) -> str:
    return f"chat.activity.{room_id}"


def online_group(room: Room) -> str:
    """Where a room's online count goes: every room list (visitors' too) for a public
    room; only its members' room lists for a private one."""
    return activity_group(room) if room.private else LOBBY_GROUP


def room_group(room_id: int) -> str:
    # By id, not slug: a renamed room keeps its open sockets.
    return f"chat.room.{room_id}"


def room_presence(room_id: int) -> str:
    return f"chat-room.{room_id}"


def user_group(user_id: int) -> str:
    # A user's chat pages (rooms and the room list): read cursors and mutes.
    return f"chat.user.{user_id}"
