"""Chat sockets: ``/ws/chat/`` (room list counts) and ``/ws/chat/<slug>/`` (a room)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import protocol, roles, selectors, services
from chat.models import Room
from common.database import write_to_async
from common.loops import PerLoop
from realtime import presence
from realtime.close_codes import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_REMOVED
from realtime.consumers import JsonConsumer
from realtime.errors import ActionError, ErrorCode
from realtime.hub import get_hub
from realtime.live import History, LiveConsumer, SharedReads, read_history
from realtime.protocol import Ack, User

# The browser refreshes "is typing" at most this often per socket.
TYPING_MIN_INTERVAL = 1.0


@dataclass(frozen=True)
class _SyncHistory:
    history: History[protocol.MessageData]  # messages to show or replace
    deleted: list[int]  # tombstones met on a resume: messages to drop
    cursor: int  # the newest change (seq) this read covered


def _history(room: Room, after: int | None) -> _SyncHistory:
    """The history part of a sync frame: one trip to the database thread, one query. A
    resume reads every change after the cursor (``seq``): new messages, edits, reactions
    and deletions made while the page was away."""
    history = read_history(
        after=after,
        read_after=lambda after, limit: selectors.message_changes(
            room=room, after_seq=after, limit=limit
        ),
        read_latest=lambda limit: selectors.message_recent(room=room, limit=limit),
        resume_limit=settings.CHAT_RESUME_LIMIT,
        page_size=settings.CHAT_HISTORY_PAGE_SIZE,
    )
    shown = [m for m in history.items if m.deleted_at is None]
    deleted = [m.pk for m in history.items if m.deleted_at is not None]
    cursor = max([after or 0, *(m.seq for m in history.items)])
    if history.mode != "resume":
        # The latest page leaves out changes to older messages (a reaction, a deletion):
        # the room's counter, read after the page, is where a resume starts, so a page
        # that counts its changes (live.js seenInOrder) finds no gap below the next one.
        cursor = max(cursor, selectors.room_seq(room=room))
    payloads = [protocol.MessageData.of(m) for m in shown]
    return _SyncHistory(History(history.mode, payloads, history.has_more), deleted, cursor)


@dataclass(frozen=True)
class _Viewer:
    last_read: int
    muted: bool
    muted_until: datetime | None
    role: str | None
    blocked: list[int]


class _NotMemberError(Exception):
    """No longer a member of the private room when a sync reads the role: removed after
    the check on connect, before the socket joined the room's groups, or while the
    broadcasts a resync makes up for were lost (either way, it missed the removal)."""


def _viewer(room: Room, user: Any) -> _Viewer:
    """For a socket's first sync: the user's read cursor, whether they are muted and
    until when, their role and whom they blocked (one query on the connect path; another
    only for someone who blocked anyone, and a write on the user's first visit)."""
    viewer = selectors.viewer_state(room=room, user=user)
    if room.private and viewer.role is None:
        raise _NotMemberError
    last_read = viewer.last_read
    if last_read is None:
        last_read = services.read_open(user=user, room=room)
    blocked = selectors.blocked_ids(user=user) if viewer.blocks else []
    return _Viewer(last_read, viewer.muted, viewer.muted_until, viewer.role, blocked)


# Room id -> (when, up to CHAT_ONLINE_LIST_LIMIT users online): the names a socket's first
# sync lists, read from Redis by one socket and reused by those arriving within
# ONLINE_LIST_SHARE_SECONDS (the count is always the socket's own, fresh). In a connect
# storm, reading and sending 100 names per socket was a quarter of the connect's work;
# the presence batches that follow correct the list.
ONLINE_LIST_SHARE_SECONDS = 1.0
_online_lists: PerLoop[dict[int, tuple[float, list[dict[str, Any]]]]] = PerLoop(dict)

# (room id, cursor) -> one history read for the sockets of a room connecting or resyncing
# together, while nothing changes in the room (at most a few seconds).
_shared_history = SharedReads(share_for=5.0)


class RoomListConsumer(JsonConsumer):
    """Live online counts for the room list page, and a logged-in user's unread and
    mention counts. A visitor (on any site: the room list is public) gets the rooms and
    their online counts only, never who posted or whom a post mentions."""

    client_frames = protocol.LOBBY_CLIENT_FRAMES
    server_frames = protocol.LOBBY_SERVER_FRAMES

    async def connect(self) -> None:
        await self.join_group(protocol.LOBBY_GROUP)
        if self.user.is_authenticated:
            await self.join_group(protocol.ACTIVITY_GROUP)
            await self.join_group(protocol.user_group(self.user.pk))
        await self._send_rooms()

    async def hub_resync(self, since: float) -> None:
        await self._send_rooms()  # counts may have changed while broadcasts were lost

    async def _send_rooms(self) -> None:
        user = self.user if self.user.is_authenticated else None

        def read() -> tuple[list[Room], dict[int, selectors.Unread]]:
            rooms = list(selectors.room_list(user=user))
            rooms += selectors.direct_list(user=user)
            return rooms, selectors.unread_counts(user=user) if user is not None else {}

        rooms, unread = await database_sync_to_async(read)()
        # A private room's activity and online count reach only its members' lists; a
        # resync's list leaves those it no longer holds (a removal may have been lost).
        wanted = {protocol.activity_group(room) for room in rooms if room.private}
        for group in set(self.hub_groups):
            if group.startswith(f"{protocol.ACTIVITY_GROUP}.") and group not in wanted:
                await self.leave_group(group)
        for group in wanted - set(self.hub_groups):
            await self.join_group(group)
        keys = {room.pk: protocol.room_presence(room.pk) for room in rooms}
        counts = await presence.online_counts(room_ids=list(keys.values()))
        await self.send_frame(
            protocol.Rooms.of(rooms, [counts[keys[room.pk]] for room in rooms], unread, user)
        )

    async def chat_muted(self, event: dict[str, Any]) -> None:
        pass  # for room pages (it shares the user's group with them)

    async def chat_removed(self, event: dict[str, Any]) -> None:
        pass  # for room pages; the list hears ``room.removed``

    async def chat_room_added(self, event: dict[str, Any]) -> None:
        if event.get("private_room_id"):
            await self.join_group(protocol.private_activity_group(event["private_room_id"]))
        await self.forward_frame(event)

    async def chat_room_removed(self, event: dict[str, Any]) -> None:
        if event.get("private_room_id"):
            await self.leave_group(protocol.private_activity_group(event["private_room_id"]))
        await self.forward_frame(event)

    async def on_room_join(self, *, slug: str) -> None:
        user = self.require_user("Log in to join rooms.")
        room = await database_sync_to_async(selectors.room_visible_get)(slug=slug, user=user)
        if room is None:
            raise ActionError(ErrorCode.NOT_FOUND, "This room no longer exists.")
        await database_sync_to_async(services.room_join)(user=user, room=room)

    async def on_room_leave(self, *, slug: str) -> None:
        await _leave(self, slug)

    async def on_direct_open(self, *, usernames: str) -> protocol.Direct:
        return await _direct_open(self, usernames)

    async def on_user_block(self, *, username: str, blocked: bool) -> None:
        await _block(self, username, blocked)


async def _direct_open(consumer: JsonConsumer, usernames: str) -> protocol.Direct:
    user = consumer.require_user("Log in to send direct messages.")
    await services.write_allowed(user=user, action="member")
    names = [name for name in usernames.replace(" ", ",").split(",") if name]
    room = await database_sync_to_async(services.direct_open)(user=user, usernames=names)
    return protocol.Direct(slug=room.slug, url=room.get_absolute_url())


async def _block(consumer: JsonConsumer, username: str, blocked: bool) -> None:
    user = consumer.require_user("Log in to block people.")
    await services.write_allowed(user=user, action="member")
    await database_sync_to_async(services.user_block)(user=user, username=username, blocked=blocked)


async def _leave(consumer: JsonConsumer, slug: str) -> None:
    user = consumer.require_user("Log in to leave rooms.")
    room = await database_sync_to_async(selectors.room_visible_get)(slug=slug, user=user)
    if room is None:
        raise ActionError(ErrorCode.NOT_FOUND, "This room no longer exists.")
    await services.write_allowed(user=user, action="member")
    await database_sync_to_async(services.room_leave)(room=room, user=user)


class ChatRoomConsumer(LiveConsumer):
    counts_every_change = True  # the cursor is the room's seq
    client_frames = protocol.ROOM_CLIENT_FRAMES
    server_frames = protocol.ROOM_SERVER_FRAMES

    room: Room | None = None
    last_typing: float = 0.0
    muted = False
    muted_until: datetime | None = None  # when the mute lapses by itself
    # The viewer's role here (None: not a member, or a visitor): read on connect (a
    # private room) or with the first sync, then kept by the ``member`` broadcasts.
    role: str | None = None
    blocked: tuple[int, ...] = ()  # whom the viewer blocked (kept by ``blocks``)
    # Who is online as counting this socket in told it: the first sync needs no more.
    online: tuple[list[dict[str, Any]], int] | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        room = selectors.room_cached_here(slug=slug) or await database_sync_to_async(
            selectors.room_get_cached
        )(slug=slug)
        if room is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if room.private:
            # Its existence is private too: a non-member (a visitor too, wherever
            # visitors may not read) hears "no such room".
            self.role = await database_sync_to_async(selectors.member_role)(
                room=room, user=self.user
            )
            if self.role is None:
                await self.close(code=CLOSE_NOT_FOUND)
                return
        if not self.user.is_authenticated and not settings.CHAT_ANONYMOUS_READ:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Only now: frames the client sent before a refusal are still handled after it,
        # and find no room.
        self.room = room
        if self.user.is_authenticated:
            await self.join_groups(protocol.room_group(room.pk), protocol.user_group(self.user.pk))
        else:
            await self.join_groups(protocol.room_group(room.pk))
        if self.user.is_authenticated:
            user = self.user

            async def announce(change: presence.Change) -> None:
                await services.presence_announce(room=room, user=user, change=change)

            limit = settings.CHAT_ONLINE_LIST_LIMIT
            listed = _online_lists.get().get(room.pk)
            fresh = listed is not None and time.monotonic() - listed[0] < ONLINE_LIST_SHARE_SECONDS
            change = await self.presence_enter(
                protocol.room_presence(room.pk),
                user_id=user.pk,
                username=user.get_username(),
                listed=0 if fresh else limit,
                announce=announce,
            )
            if fresh and listed is not None:
                names = listed[1]
                me = {"id": user.pk, "username": user.get_username()}
                if len(names) < limit and me not in names:
                    names = sorted([*names, me], key=lambda entry: entry["username"])
            else:
                names = change.listed
                _online_lists.get()[room.pk] = (time.monotonic(), names)
            self.online = (names, change.online)
        try:
            await self.send_sync(self.query_cursor())
        except _NotMemberError:
            self.room = None
            await self.close(code=CLOSE_NOT_FOUND)

    async def sync_frame(self, after: int | None) -> tuple[protocol.Sync, int]:
        room = self._joined_room()
        if self.resync_since is None:
            # A first sync: a read started before this socket joined serves it while the
            # room's epoch holds (nothing reached the room's sockets since).
            read = await _shared_history.get(
                (room.pk, after),
                epoch=get_hub().epoch(protocol.room_group(room.pk)),
                joined_at=self.joined_at,
                read=lambda: database_sync_to_async(_history)(room, after),
            )
        else:
            # A resync: any read started after it was asked for has what the hub dropped,
            # however much the room's sockets were sent meanwhile, so all of a room's
            # sockets resyncing at one moment (from one cursor) share one read.
            read = await _shared_history.get(
                (room.pk, after),
                joined_at=max(self.joined_at, self.resync_since),
                read=lambda: database_sync_to_async(_history)(room, after),
            )
        last_read = None
        if self.user.is_authenticated and not self.synced:
            viewer = await database_sync_to_async(_viewer)(room, self.user)
            last_read, self.muted, self.muted_until = (
                viewer.last_read,
                viewer.muted,
                viewer.muted_until,
            )
            self.role, self.blocked = viewer.role, tuple(viewer.blocked)
        elif room.private and self.user.is_authenticated:
            # A resync: the broadcasts it makes up for may have held this viewer's removal.
            self.role = await database_sync_to_async(selectors.member_role)(
                room=room, user=self.user
            )
            if self.role is None:
                raise _NotMemberError
        if self.muted and self.muted_until is not None and self.muted_until <= timezone.now():
            self.muted, self.muted_until = False, None  # lapsed since (a resync)
        online, self.online = self.online, None
        if online is None:
            online = await presence.online_users(
                room_id=protocol.room_presence(room.pk), limit=settings.CHAT_ONLINE_LIST_LIMIT
            )
        history = read.history
        frame = protocol.Sync(
            mode=history.mode,
            cursor=read.cursor,
            room=protocol.RoomData.of(room),
            messages=history.items,
            deleted=read.deleted,
            online=[User(**entry) for entry in online[0]],
            online_count=online[1],
            me=protocol.user_of(self.user) if self.user.is_authenticated else None,
            muted=self.muted,
            role=self.role,
            manages=self._manages(),
            blocked=list(self.blocked),
            mute_expires_in=protocol.expires_in(self.muted_until),
            last_read_id=last_read,
            limits=protocol.Limits(
                max_length=settings.CHAT_MAX_MESSAGE_LENGTH,
                typing_timeout_ms=int(settings.CHAT_TYPING_TIMEOUT_SECONDS * 1000),
                edit_window_s=settings.CHAT_EDIT_WINDOW_SECONDS,
                reactions=list(settings.CHAT_REACTIONS),
            ),
        )
        if history.has_more is not None:
            frame.has_more = history.has_more
        return frame, read.cursor

    async def hub_resync(self, since: float) -> None:
        try:
            await super().hub_resync(since)
        except _NotMemberError:
            self.room = None
            await self.close(code=CLOSE_NOT_FOUND)

    def _joined_room(self) -> Room:
        if self.room is None:  # frames racing a refused connect
            raise ActionError(ErrorCode.NOT_FOUND, "This room no longer exists.")
        return self.room

    def _manages(self) -> bool:
        room = self.room
        staff = self.user.is_authenticated and self.user.is_staff
        return room is not None and roles.manages(self.role, staff=staff, private=room.private)

    async def on_message_send(
        self, *, body: str, nonce: str, reply_to: int | None, attachments: list[int]
    ) -> Ack:
        author = self.require_user("Log in to take part in this room.")
        room = self._joined_room()
        await services.write_allowed(user=author, action="post")
        message = await write_to_async(services.message_post)(
            room=room,
            author=author,
            body=body,
            nonce=nonce,
            reply_to=reply_to,
            attachments=attachments,
        )
        return Ack(id=message.pk)

    async def on_message_edit(self, *, id: int, body: str) -> None:
        user = self.require_user("Log in to edit your messages.")
        await services.write_allowed(user=user, action="edit")
        await database_sync_to_async(services.message_edit)(
            room=self._joined_room(), user=user, message_id=id, body=body
        )

    async def on_message_delete(self, *, id: int) -> None:
        user = self.require_user("Log in to delete your messages.")
        await services.write_allowed(user=user, action="delete")
        await database_sync_to_async(services.message_delete_own)(
            room=self._joined_room(), user=user, message_id=id, manages=self._manages()
        )

    async def on_reaction_toggle(self, *, id: int, emoji: str) -> None:
        user = self.require_user("Log in to react to messages.")
        await services.write_allowed(user=user, action="reaction")
        await database_sync_to_async(services.reaction_toggle)(
            room=self._joined_room(), user=user, message_id=id, emoji=emoji
        )

    async def on_read(self, *, id: int) -> None:
        user = self.require_user("Log in to keep your place.")
        await services.read_mark_soon(user=user, room=self._joined_room(), message_id=id)

    async def on_history(self, *, before_id: int) -> protocol.History:
        room = self._joined_room()
        page = settings.CHAT_HISTORY_PAGE_SIZE

        def read() -> protocol.History:
            messages, has_more = selectors.message_before(
                room=room, before_id=before_id, limit=page
            )
            return protocol.History.of(messages, has_more)

        return await database_sync_to_async(read)()

    async def on_newer(self, *, after_id: int) -> protocol.Newer:
        room = self._joined_room()
        page = settings.CHAT_HISTORY_PAGE_SIZE

        def read() -> protocol.Newer:
            messages, has_more = selectors.message_after(room=room, after_id=after_id, limit=page)
            return protocol.Newer.of(messages, has_more)

        return await database_sync_to_async(read)()

    async def on_context(self, *, id: int) -> protocol.Context:
        room = self._joined_room()
        page = settings.CHAT_HISTORY_PAGE_SIZE

        def read() -> protocol.Context:
            context = selectors.message_context(room=room, message_id=id, limit=page)
            return protocol.Context.of(id, context)

        return await database_sync_to_async(read)()

    async def on_typing(self) -> None:
        user = self.require_user("Log in to take part in this room.")
        room = self._joined_room()
        now = time.monotonic()
        if now - self.last_typing < TYPING_MIN_INTERVAL:
            return  # already announced; the indicator is still showing
        self.last_typing = now
        await services.write_allowed(user=user, action="typing")
        await services.typing_start(room=room, user=user)

    async def on_members(self) -> protocol.Members:
        room = self._joined_room()
        members, count = await database_sync_to_async(selectors.room_members)(
            room=room, limit=settings.CHAT_MEMBERS_LIST_LIMIT
        )
        return protocol.Members(
            members=[
                protocol.MemberData(
                    id=m.user_id, username=m.username, role=m.role, through_group=m.through_group
                )
                for m in members
            ],
            count=count,
        )

    async def on_member_invite(self, *, username: str, role: str) -> None:
        user = self.require_user("Log in to invite people.")
        await services.write_allowed(user=user, action="member")
        await database_sync_to_async(services.member_invite)(
            room=self._joined_room(), by=user, username=username, role=role
        )

    async def on_member_remove(self, *, username: str) -> None:
        user = self.require_user("Log in to remove people.")
        await services.write_allowed(user=user, action="member")
        await database_sync_to_async(services.member_kick)(
            room=self._joined_room(), by=user, username=username
        )

    async def on_member_mute(self, *, username: str, muted: bool, minutes: int) -> None:
        user = self.require_user("Log in to mute people.")
        await services.write_allowed(user=user, action="member")
        await database_sync_to_async(services.member_mute)(
            room=self._joined_room(), by=user, username=username, muted=muted, minutes=minutes
        )

    async def on_member_role(self, *, username: str, role: str) -> None:
        user = self.require_user("Log in to change roles.")
        await services.write_allowed(user=user, action="member")
        await database_sync_to_async(services.member_set_role)(
            room=self._joined_room(), by=user, username=username, role=role
        )

    async def on_room_edit(self, *, topic: str, description: str) -> None:
        user = self.require_user("Log in to change the room.")
        await services.write_allowed(user=user, action="edit")
        self.room = await database_sync_to_async(services.room_edit)(
            room=self._joined_room(), by=user, topic=topic, description=description
        )

    async def on_room_leave(self, *, slug: str) -> None:
        await _leave(self, slug)

    async def on_direct_open(self, *, usernames: str) -> protocol.Direct:
        return await _direct_open(self, usernames)

    async def on_user_block(self, *, username: str, blocked: bool) -> None:
        await _block(self, username, blocked)

    async def chat_member(self, event: dict[str, Any]) -> None:
        if self.user.is_authenticated and event.get("user_id") == self.user.pk:
            self.role = event["role"]  # the frame's own role (null: no longer one)
        await self.send(text_data=event["frame"])

    async def chat_room_updated(self, event: dict[str, Any]) -> None:
        if self.room is not None:  # what the next sync's room data says
            self.room.topic, self.room.description = event["topic"], event["description"]
        await self.send(text_data=event["frame"])

    async def chat_removed(self, event: dict[str, Any]) -> None:
        """The viewer left this private room or was removed: the page is told, then the
        socket closes (not to be reopened: 4410)."""
        if self.room is not None and event["room_id"] == self.room.pk:
            self.room = None  # frames still on their way find no room
            await self.send(text_data=event["frame"])
            await self.close(code=CLOSE_REMOVED)

    async def chat_privacy(self, event: dict[str, Any]) -> None:
        """The room became private: a page of someone who is not a member closes."""
        if self.room is not None:
            self.room.private = True
        if self.role is None:
            self.room = None  # frames still on their way find no room
            await self.send(text_data=event["frame"])
            await self.close(code=CLOSE_REMOVED)

    async def chat_blocks(self, event: dict[str, Any]) -> None:
        self.blocked = tuple(event["ids"])
        await self.send(text_data=event["frame"])

    async def chat_room_added(self, event: dict[str, Any]) -> None:
        pass  # for room lists (they share the user's group)

    async def chat_room_removed(self, event: dict[str, Any]) -> None:
        pass

    async def chat_muted(self, event: dict[str, Any]) -> None:
        if self.room is not None and event["room_id"] == self.room.pk:
            self.muted = event["muted"]
            until = event.get("until")
            self.muted_until = datetime.fromisoformat(until) if until else None
            await self.send(text_data=event["frame"])
