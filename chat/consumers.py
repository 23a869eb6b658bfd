"""Chat sockets: ``/ws/chat/`` (room list counts) and ``/ws/chat/<slug>/`` (a room)."""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from chat import protocol, selectors, services
from chat.models import Room
from rtsite import presence
from rtsite.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, JsonConsumer
from rtsite.errors import ActionError, ErrorCode
from rtsite.live import History, LiveConsumer, SharedReads, read_history
from rtsite.protocol import ack_frame

# The browser refreshes "is typing" at most this often per socket.
TYPING_MIN_INTERVAL = 1.0


def _history(room: Room, after_id: int | None) -> History[dict[str, Any]]:
    """The history part of a sync frame, as payloads: one trip to the database thread."""
    history = read_history(
        after=after_id,
        read_after=lambda after, limit: selectors.message_after(
            room=room, after_id=after, limit=limit
        ),
        read_latest=lambda limit: selectors.message_recent(room=room, limit=limit),
        resume_limit=settings.CHAT_RESUME_LIMIT,
        page_size=settings.CHAT_HISTORY_PAGE_SIZE,
    )
    payloads = [protocol.message_payload(m) for m in history.items]
    return History(history.mode, payloads, history.has_more)


# (room id, cursor) -> one history read for the sockets of a room resyncing together.
_shared_history = SharedReads()


class RoomListConsumer(JsonConsumer):
    """Live online counts for the room list page."""

    client_frames = protocol.LOBBY_CLIENT_FRAMES
    server_frames = protocol.LOBBY_SERVER_FRAMES

    async def connect(self) -> None:
        await self.join_group(protocol.LOBBY_GROUP)
        await self._send_rooms()

    async def hub_resync(self) -> None:
        await self._send_rooms()  # counts may have changed while broadcasts were lost

    async def _send_rooms(self) -> None:
        rooms = await database_sync_to_async(lambda: list(selectors.room_list()))()
        keys = {room.pk: protocol.room_presence(room.pk) for room in rooms}
        counts = await presence.online_counts(room_ids=list(keys.values()))
        await self.send_frame(
            protocol.rooms_frame(rooms, [counts[keys[room.pk]] for room in rooms])
        )

    chat_room_online = JsonConsumer.forward_frame


class ChatRoomConsumer(LiveConsumer):
    client_frames = protocol.ROOM_CLIENT_FRAMES
    server_frames = protocol.ROOM_SERVER_FRAMES

    room: Room | None = None
    last_typing: float = 0.0
    # Who is online as counting this socket in told it: the first sync needs no more.
    online: tuple[list[dict[str, Any]], int] | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.room = room = await database_sync_to_async(selectors.room_get_cached)(slug=slug)
        if room is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not self.user.is_authenticated and not settings.CHAT_ANONYMOUS_READ:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.join_groups(protocol.room_group(room.pk))
        if self.user.is_authenticated:
            user = self.user

            async def announce(change: presence.Change) -> None:
                await services.presence_announce(room=room, user=user, change=change)

            change = await self.presence_enter(
                protocol.room_presence(room.pk),
                user_id=user.pk,
                username=user.get_username(),
                listed=settings.CHAT_ONLINE_LIST_LIMIT,
                announce=announce,
            )
            self.online = (change.listed, change.online)
        await self.send_sync(self.query_cursor())

    async def sync_frame(self, after: int | None) -> tuple[dict[str, Any], list[int]]:
        room = self._joined_room()
        history = await _shared_history.get(
            (room.pk, after),
            joined_at=self.joined_at,
            read=lambda: database_sync_to_async(_history)(room, after),
        )
        online, self.online = self.online, None
        if online is None:
            online = await presence.online_users(
                room_id=protocol.room_presence(room.pk), limit=settings.CHAT_ONLINE_LIST_LIMIT
            )
        frame = protocol.sync_frame(
            mode=history.mode,
            room=room,
            messages=history.items,
            has_more=history.has_more,
            online=online[0],
            online_count=online[1],
            me=self.user if self.user.is_authenticated else None,
            max_length=settings.CHAT_MAX_MESSAGE_LENGTH,
            typing_timeout_ms=int(settings.CHAT_TYPING_TIMEOUT_SECONDS * 1000),
        )
        return frame, [message["id"] for message in history.items]

    def _joined_room(self) -> Room:
        if self.room is None:  # frames racing a refused connect
            raise ActionError(ErrorCode.NOT_FOUND, "no such room")
        return self.room

    async def on_message_send(self, *, body: str) -> dict[str, Any]:
        author = self.require_user("log in to take part in this room")
        room = self._joined_room()
        await services.post_allowed(user=author)
        message = await database_sync_to_async(services.message_post)(
            room=room, author=author, body=body
        )
        return ack_frame(id=message.pk)

    async def on_history(self, *, before_id: int) -> dict[str, Any]:
        messages, has_more = await database_sync_to_async(selectors.message_before)(
            room=self._joined_room(),
            before_id=before_id,
            limit=settings.CHAT_HISTORY_PAGE_SIZE,
        )
        return await database_sync_to_async(protocol.history_frame)(messages, has_more)

    async def on_typing(self) -> None:
        user = self.require_user("log in to take part in this room")
        room = self._joined_room()
        now = time.monotonic()
        if now - self.last_typing < TYPING_MIN_INTERVAL:
            return  # already announced; the indicator is still showing
        self.last_typing = now
        await services.typing_start(room=room, user=user)

    chat_message = LiveConsumer.forward_stored
    chat_deleted = JsonConsumer.forward_frame
    chat_presence = JsonConsumer.forward_frame
    chat_typing = JsonConsumer.forward_frame
