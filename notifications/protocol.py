"""Every frame of the notifications socket, defined once. docs/protocol.md describes them."""

from __future__ import annotations

from typing import Any

from notifications.models import Notification
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    PING,
    ClientFrame,
    ServerFrame,
    frame_registry,
    id_field,
    server_registry,
)

CLIENT_FRAMES = frame_registry(
    PING,
    ClientFrame("mark_read", {"id": id_field()}),
    ClientFrame("mark_all_read"),
)

# Channel-layer event types (handled by NotificationConsumer.notify_<name>).
EVENT_NOTIFICATION = "notify.notification"
EVENT_READ = "notify.read"
# A user's auth groups changed: their sockets follow (no frame of its own reaches the page).
EVENT_MEMBERSHIP = "notify.membership"

GROUP_EVERYONE = "notify.everyone"  # every socket, visitors included
GROUP_USERS = "notify.users"  # every logged-in socket


# Hub groups (where broadcasts go), named here only.
def user_group(user_id: int) -> str:
    return f"notify.user.{user_id}"


MEMBERS_GROUP_PREFIX = "notify.group."


def members_group(auth_group_id: int) -> str:
    """The sockets of the members of a Django auth group."""
    return f"{MEMBERS_GROUP_PREFIX}{auth_group_id}"


def notification_payload(notification: Notification, *, read: bool = False) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "title": notification.title,
        "body": notification.body,
        "level": notification.level,
        "link": notification.link,
        "created_at": notification.created_at.isoformat(),
        "read": read,
        "count": notification.fold_count,
    }


def notification_frame(
    notification: Notification,
    *,
    again: bool = False,
    update: bool = False,
    quiet: bool = False,
    read: bool = False,
) -> dict[str, Any]:
    """``again`` marks a re-delivery (the admin's "send again"): pages show it even if
    they already have it. ``update`` marks a notification that changed (the same id):
    pages replace the one they have. A repeat folded into it (a new title and count) is
    news; a ``quiet`` update is not (what it shows was edited or deleted): pages replace
    it where they show it and announce nothing. ``read``: whether its recipient has read
    it (a new or folded one is unread)."""
    return {
        "type": "notification",
        "notification": notification_payload(notification, read=read),
        "again": again,
        "update": update,
        "quiet": quiet,
    }


def read_frame(ids: list[int], unread: int) -> dict[str, Any]:
    return {"type": "read", "ids": ids, "unread": unread}


# ---------------------------------------------------------------- server frames

NOTIFICATION = {
    "id": int,
    "title": str,
    "body": str,
    "level": str,
    "link": str,
    "created_at": str,
    "read": bool,
    "count": int,
}

SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame("sync", {"mode": str, "notifications": [NOTIFICATION], "unread": int}),
    ServerFrame(
        "notification",
        {"notification": NOTIFICATION, "again": bool, "update": bool, "quiet": bool},
    ),
    ServerFrame("read", {"ids": [int], "unread": int}),
)


def sync_frame(mode: str, notifications: list[Notification], unread: int) -> dict[str, Any]:
    """``notifications`` carry ``is_read`` (the inbox selector's annotation)."""
    return {
        "type": "sync",
        "mode": mode,
        "notifications": [
            notification_payload(n, read=n.is_read)  # type: ignore[attr-defined]  # annotate()
            for n in notifications
        ],
        "unread": unread,
    }
