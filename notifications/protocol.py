"""Every frame of the notifications socket, declared once. docs/protocol.md describes them."""

from __future__ import annotations

from typing import ClassVar

from notifications.models import Notification
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    ClientFrame,
    Id,
    Payload,
    Ping,
    ServerFrame,
    client_frames,
    server_frames,
)


class MarkRead(ClientFrame, tag="mark_read"):
    """Who: logged in
    Reply: `ack`; `read` to every socket of the user (if it was unread)"""

    id: Id


class MarkAllRead(ClientFrame, tag="mark_all_read"):
    """Who: logged in
    Reply: `ack`; `read` to every socket of the user (if anything was unread)"""


CLIENT_FRAMES = client_frames(Ping, MarkRead, MarkAllRead)

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


# ---------------------------------------------------------------- server frames


class NotificationData(Payload):
    id: int
    title: str
    body: str
    level: str
    link: str
    created_at: str
    read: bool
    count: int

    @classmethod
    def of(cls, notification: Notification, *, read: bool = False) -> NotificationData:
        return cls(
            id=notification.pk,
            title=notification.title,
            body=notification.body,
            level=notification.level,
            link=notification.link,
            created_at=notification.created_at.isoformat(),
            read=read,
            count=notification.fold_count,
        )


class Sync(ServerFrame, tag="sync"):
    mode: str
    notifications: list[NotificationData]
    unread: int

    @classmethod
    def of(cls, mode: str, notifications: list[Notification], unread: int) -> Sync:
        """``notifications`` carry ``is_read`` (the inbox selector's annotation)."""
        return cls(
            mode=mode,
            notifications=[
                NotificationData.of(n, read=n.is_read)  # type: ignore[attr-defined]  # annotate()
                for n in notifications
            ],
            unread=unread,
        )


class NewNotification(ServerFrame, tag="notification"):
    """``again`` marks a re-delivery (the admin's "send again"): pages show it even if
    they already have it. ``update`` marks a notification that changed (the same id):
    pages replace the one they have. A repeat folded into it (a new title and count) is
    news; a ``quiet`` update is not (what it shows was edited or deleted): pages replace
    it where they show it and announce nothing. ``notification.read``: whether its
    recipient has read it (a new or folded one is unread)."""

    event: ClassVar[str] = "notify.notification"
    notification: NotificationData
    again: bool = False
    update: bool = False
    quiet: bool = False

    @classmethod
    def of(
        cls,
        notification: Notification,
        *,
        again: bool = False,
        update: bool = False,
        quiet: bool = False,
        read: bool = False,
    ) -> NewNotification:
        return cls(
            notification=NotificationData.of(notification, read=read),
            again=again,
            update=update,
            quiet=quiet,
        )


class Read(ServerFrame, tag="read"):
    event: ClassVar[str] = "notify.read"
    ids: list[int]
    unread: int


SERVER_FRAMES = server_frames(*COMMON_SERVER_FRAMES, Sync, NewNotification, Read)
