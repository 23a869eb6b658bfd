"""The notifications socket, ``/ws/notifications/``: one per page, for visitors too."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from notifications import protocol, selectors, services
from realtime.live import LiveConsumer, read_history


def _sync(user: Any, after_id: int | None) -> protocol.Sync:
    """The sync frame: what arrived after the cursor (and shortly before it: the cursor is
    the newest id seen, ``selectors.resume_floor``), or the latest page, and the unread
    count, which agree (``selectors.inbox_state``): a few queries in one DB trip."""
    unread, top = selectors.inbox_state(user=user)
    history = read_history(
        after=after_id,
        read_after=lambda after, limit: selectors.inbox_after(
            user=user, after_id=selectors.resume_floor(after_id=after), limit=limit, upto=top
        ),
        read_latest=lambda limit: selectors.inbox_recent(user=user, limit=limit, upto=top),
        resume_limit=settings.NOTIFICATIONS_RESUME_LIMIT,
        page_size=settings.NOTIFICATIONS_PAGE_SIZE,
    )
    return protocol.Sync.of(history.mode, history.items, unread)


def _groups(user: Any) -> list[str]:
    """The hub groups of a socket: everyone's, and a user's own and their auth groups'."""
    groups = [protocol.GROUP_EVERYONE]
    if user.is_authenticated:
        groups += [protocol.GROUP_USERS, protocol.user_group(user.pk)]
        for group_id in user.groups.values_list("pk", flat=True):
            groups.append(protocol.members_group(group_id))
    return groups


class NotificationConsumer(LiveConsumer):
    client_frames = protocol.CLIENT_FRAMES
    server_frames = protocol.SERVER_FRAMES

    async def connect(self) -> None:
        await self.join_groups(*await database_sync_to_async(_groups)(self.user))
        await self.send_sync(self.query_cursor())

    async def sync_frame(self, after: int | None) -> tuple[protocol.Sync, int]:
        frame = await database_sync_to_async(_sync)(self.user, after)
        return frame, max((n.id for n in frame.notifications), default=0)

    async def on_mark_read(self, *, id: int) -> None:
        user = self.require_user("Log in to manage notifications.")
        await database_sync_to_async(services.notification_mark_read)(user=user, notification_id=id)

    async def on_mark_all_read(self) -> None:
        user = self.require_user("Log in to manage notifications.")
        await database_sync_to_async(services.notification_mark_all_read)(user=user)

    async def notify_membership(self, event: dict[str, Any]) -> None:
        """The user joined or left auth groups: follow them. A group joined late may have
        been sent something in between, so the socket catches up from its cursor."""
        wanted = await database_sync_to_async(_groups)(self.user)
        for group in list(self.hub_groups):
            if group.startswith(protocol.MEMBERS_GROUP_PREFIX) and group not in wanted:
                await self.leave_group(group)
        joined = [group for group in wanted if group not in self.hub_groups]
        for group in joined:
            await self.join_group(group)
        if joined and self.synced:
            await self.send_sync(self.cursor)
