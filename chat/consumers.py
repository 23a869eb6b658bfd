"""Chat sockets: ``/ws/chat/`` (room list counts) and ``/ws/chat/<slug>/`` (a room)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from chat import protocol, selectors, services
from chat.models import Message, Room
from rtsite import presence
from rtsite.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, JsonConsumer
from rtsite.errors import ActionError, ErrorCode
from rtsite.loops import PerLoop

# The browser refreshes "is typing" at most this often per socket.
TYPING_MIN_INTERVAL = 1.0


def _page(messages: list[Message]) -> list[dict[str, Any]]:
    return [protocol.message_payload(m) for m in messages]


def _listed() -> int:
    return settings.CHAT_ONLINE_LIST_LIMIT


def _history(room: Room, after_id: int | None) -> dict[str, Any]:
    """The history part of a sync frame: after the cursor, or the latest page."""
    if after_id is not None:
        limit = settings.CHAT_RESUME_LIMIT
        messages, too_many = selectors.message_after(room=room, after_id=after_id, limit=limit)
        if not too_many:
            return {"mode": "resume", "messages": _page(messages)}
    page = settings.CHAT_HISTORY_PAGE_SIZE
    messages, has_more = selectors.message_recent(room=room, limit=page)
    # "reset": too far behind to replay; start over from the latest page.
    mode = "recent" if after_id is None else "reset"
    return {"mode": mode, "messages": _page(messages), "has_more": has_more}


@dataclass
class _SharedRead:
    started: float
    result: asyncio.Future[dict[str, Any]]


# (room id, cursor) -> the latest read of that history, per event loop. When a whole room
# resyncs at once (after an outage, every socket with the same cursor), one query serves
# them all instead of one per socket.
_shared_reads: PerLoop[dict[tuple[int, int | None], _SharedRead]] = PerLoop(dict)
SHARE_FOR_SECONDS = 1.0


async def _history_for(room: Room, after_id: int | None, joined_at: float) -> dict[str, Any]:
    """``_history``, shared with other sockets of the room asking the same at the same
    time. A read is shared only with sockets that had joined the room's group before it
    started: anything committed after it reaches them live, so nothing falls in between."""
    reads = _shared_reads.get()
    key = (room.pk, after_id)
    now = time.monotonic()
    shared = reads.get(key)
    if shared is None or shared.started < joined_at or now - shared.started > SHARE_FOR_SECONDS:
        if len(reads) > 1000:  # drop the old ones now and then
            for old in [k for k, v in reads.items() if now - v.started > SHARE_FOR_SECONDS]:
                del reads[old]
        shared = _SharedRead(
            started=now,
            result=asyncio.ensure_future(database_sync_to_async(_history)(room, after_id)),
        )
        reads[key] = shared
    return await asyncio.shield(shared.result)


class RoomListConsumer(JsonConsumer):
    """Live online counts for the room list page."""

    client_frames = protocol.LOBBY_CLIENT_FRAMES

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
            {
                "type": "rooms",
                "rooms": [
                    {**protocol.room_payload(room), "online": counts[keys[room.pk]]}
                    for room in rooms
                ],
            }
        )

    chat_room_online = JsonConsumer.forward_frame


class ChatRoomConsumer(JsonConsumer):
    client_frames = protocol.ROOM_CLIENT_FRAMES

    room: Room | None = None
    joined_at: float = 0.0  # when this socket joined its room's group (monotonic)
    last_typing: float = 0.0
    cursor: int = 0  # the newest message id this socket has been sent

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.room = await database_sync_to_async(selectors.room_get_cached)(slug=slug)
        if self.room is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not self.user.is_authenticated and not settings.CHAT_ANONYMOUS_READ:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Join before reading history: a message committed meanwhile arrives twice at
        # worst (the client drops repeats by id), never zero times.
        await self.join_group(protocol.room_group(self.room.pk))
        self.joined_at = time.monotonic()
        online = None
        if self.user.is_authenticated:
            # Counting this socket in also tells who is online: one Redis trip, not two.
            change = await services.presence_enter(
                room=self.room, user=self.user, socket_id=self.socket_id, listed=_listed()
            )
            online = (change.listed, change.online)
        await self.send_frame(await self._sync_frame(self.room, self.query_cursor(), online))

    async def _sync_frame(
        self,
        room: Room,
        after_id: int | None,
        online: tuple[list[dict[str, Any]], int] | None = None,
    ) -> dict[str, Any]:
        # One trip to the database thread for the whole history part.
        history = await _history_for(room, after_id, self.joined_at)
        if online is None:
            online = await presence.online_users(
                room_id=protocol.room_presence(room.pk), limit=_listed()
            )
        online_users, online_count = online
        frame: dict[str, Any] = {
            "type": "sync",
            "mode": history["mode"],
            "room": protocol.room_payload(room),
            "messages": history["messages"],
            "online": online_users,
            "online_count": online_count,
            "me": protocol.user_payload(self.user) if self.user.is_authenticated else None,
            "limits": {
                "max_length": settings.CHAT_MAX_MESSAGE_LENGTH,
                "typing_timeout_ms": int(settings.CHAT_TYPING_TIMEOUT_SECONDS * 1000),
            },
        }
        if "has_more" in history:
            frame["has_more"] = history["has_more"]
        self.cursor = max([self.cursor, after_id or 0, *(m["id"] for m in history["messages"])])
        return frame

    async def disconnect(self, code: int) -> None:
        if self.room is not None and self.user.is_authenticated:
            await services.presence_leave(room=self.room, user=self.user, socket_id=self.socket_id)

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
        return {"type": "ack", "id": message.pk}

    async def on_history(self, *, before_id: int) -> dict[str, Any]:
        messages, has_more = await database_sync_to_async(selectors.message_before)(
            room=self._joined_room(),
            before_id=before_id,
            limit=settings.CHAT_HISTORY_PAGE_SIZE,
        )
        return {
            "type": "history",
            "messages": await database_sync_to_async(_page)(messages),
            "has_more": has_more,
        }

    async def on_typing(self) -> None:
        user = self.require_user("log in to take part in this room")
        room = self._joined_room()
        now = time.monotonic()
        if now - self.last_typing < TYPING_MIN_INTERVAL:
            return  # already announced; the indicator is still showing
        self.last_typing = now
        await services.typing_start(room=room, user=user)

    async def chat_message(self, event: dict[str, Any]) -> None:
        self.cursor = max(self.cursor, event["cursor"])
        await self.send(text_data=event["frame"])

    async def hub_resync(self) -> None:
        # Broadcasts were lost while the layer was down: send what was stored since.
        if self.room is not None:
            await self.send_frame(await self._sync_frame(self.room, self.cursor))

    chat_deleted = JsonConsumer.forward_frame
    chat_presence = JsonConsumer.forward_frame
    chat_typing = JsonConsumer.forward_frame
