"""The notifications socket, ``/ws/notifications/``: one per page, for visitors too."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from notifications import protocol, selectors, services
from rtsite.consumers import JsonConsumer


def _sync(user: Any, after_id: int | None) -> dict[str, Any]:
    """The sync frame: what arrived after the cursor, or the latest page; one DB trip."""
    mode = "recent"
    if after_id is not None:
        limit = settings.NOTIFICATIONS_RESUME_LIMIT
        items, too_many = selectors.inbox_after(user=user, after_id=after_id, limit=limit)
        mode = "reset" if too_many else "resume"
    if mode != "resume":
        page = settings.NOTIFICATIONS_PAGE_SIZE
        items = selectors.inbox_recent(user=user, limit=page)
    return {
        "type": "sync",
        "mode": mode,
        "notifications": [
            protocol.notification_payload(n, read=n.is_read)  # type: ignore[attr-defined]
            for n in items
        ],
        "unread": selectors.unread_count(user=user),
    }


def _auth_groups(user: Any) -> list[int]:
    return list(user.groups.values_list("pk", flat=True))


class NotificationConsumer(JsonConsumer):
    client_frames = protocol.CLIENT_FRAMES
    cursor: int = 0  # the newest notification id this socket has been sent

    async def connect(self) -> None:
        # Join before reading: a notification sent meanwhile comes twice at worst.
        await self.join_group(protocol.GROUP_EVERYONE)
        if self.user.is_authenticated:
            await self.join_group(protocol.GROUP_USERS)
            await self.join_group(protocol.user_group(self.user.pk))
            for group_id in await database_sync_to_async(_auth_groups)(self.user):
                await self.join_group(protocol.members_group(group_id))
        await self._send_sync(self.query_cursor())

    async def _send_sync(self, after_id: int | None) -> None:
        frame = await database_sync_to_async(_sync)(self.user, after_id)
        ids = [n["id"] for n in frame["notifications"]]
        self.cursor = max([self.cursor, after_id or 0, *ids])
        await self.send_frame(frame)

    async def hub_resync(self) -> None:
        await self._send_sync(self.cursor)

    async def on_mark_read(self, *, id: int) -> None:
        user = self.require_user("log in to manage notifications")
        await database_sync_to_async(services.notification_mark_read)(user=user, notification_id=id)

    async def on_mark_all_read(self) -> None:
        user = self.require_user("log in to manage notifications")
        await database_sync_to_async(services.notification_mark_all_read)(user=user)

    async def notify_notification(self, event: dict[str, Any]) -> None:
        self.cursor = max(self.cursor, event["cursor"])
        await self.send(text_data=event["frame"])

    notify_read = JsonConsumer.forward_frame
