"""Who is in a room and typing, and the per-account limit on writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from chat import protocol
from chat.models import Kind, Room
from chat.selectors import direct_blocked, user_is_muted
from common.batching import Batcher
from common.loops import PerLoop
from realtime import presence
from realtime.broadcast import publish_now
from realtime.errors import ActionError, ErrorCode, try_again_in
from realtime.ratelimit import account_wait


async def presence_announce(*, room: Room, user: Any, change: presence.Change) -> None:
    """A user's first socket in the room arrived, or their last one left: the room hears
    of it (batched, below)."""
    if not (change.first or change.last):
        return
    arrivals = _arrivals.get().pending(room.pk, delay=_window(change.online))
    arrivals.room = room
    came, went = (
        (arrivals.joined, arrivals.left) if change.first else (arrivals.left, arrivals.joined)
    )
    # A join and a leave of the same user within one window cancel out.
    if went.pop(user.pk, None) is None:
        came[user.pk] = protocol.user_of(user)
    arrivals.online = change.online


@dataclass
class _Arrivals:
    """A room's joins and leaves in one window, sent as one frame.

    One frame per window instead of one per user: a thousand people arriving at once
    would otherwise cost a million frames (each join sent to everyone present). The
    window is CHAT_PRESENCE_BATCH_SECONDS, growing with the room beyond the size of the
    online list (one presence frame costs a write to every socket in the room), to at
    most 5 s.
    """

    room: Room | None = None
    joined: dict[int, protocol.User] = field(default_factory=dict)
    left: dict[int, protocol.User] = field(default_factory=dict)
    online: int = 0


def _window(online: int) -> float:
    listed = max(1, settings.CHAT_ONLINE_LIST_LIMIT)
    return min(5.0, settings.CHAT_PRESENCE_BATCH_SECONDS * max(1.0, online / listed))


async def _announce(_room_id: int, arrivals: _Arrivals) -> None:
    room = arrivals.room
    if room is None:  # never: the first addition sets it
        return
    if arrivals.joined or arrivals.left:
        await publish_now(
            protocol.room_group(room.pk),
            protocol.Presence(
                joined=list(arrivals.joined.values()),
                left=list(arrivals.left.values()),
                online_count=arrivals.online,
            ),
        )
    await publish_now(
        protocol.online_group(room), protocol.RoomOnline(slug=room.slug, online=arrivals.online)
    )


_arrivals: PerLoop[Batcher[int, _Arrivals]] = PerLoop(
    lambda: Batcher(_announce, new=_Arrivals, name="chat-presence")
)


# What a refusal says, by the kind of write.
_TOO_FAST = {
    "post": "sending messages",
    "edit": "editing messages",
    "delete": "deleting messages",
    "reaction": "adding reactions",
    "typing": "typing",
    "member": "changing who is in rooms",
    "upload": "uploading files",
}


async def write_allowed(*, user: Any, action: str) -> None:
    """The per-account limit on every write that reaches other people (``action``: a key
    of CHAT_WRITE_COSTS), across all of the user's sockets and processes (each socket
    also has its own frame limit): thirty tabs write no faster than one. One budget,
    counted in posts; each kind of write costs its weight."""
    cost = settings.CHAT_WRITE_COSTS[action]
    if cost <= 0:
        return
    wait = await account_wait(
        action="chat.write",
        key=user.pk,
        rate=settings.CHAT_POST_RATE_PER_SECOND,
        burst=settings.CHAT_POST_BURST,
        cost=cost,
    )
    if wait:
        raise ActionError(
            ErrorCode.RATE_LIMITED, f"You're {_TOO_FAST[action]} too fast. {try_again_in(wait)}"
        )


async def typing_start(*, room: Room, user: Any) -> None:
    # A muted user may not post, so may not look as if about to.
    if await database_sync_to_async(user_is_muted)(room=room, user=user):
        raise ActionError(ErrorCode.MUTED, "You are muted in this room.")
    if room.kind == Kind.DIRECT and await database_sync_to_async(direct_blocked)(
        room=room, author=user
    ):
        return  # who blocked them hears nothing of them, not even that they type
    timeout = settings.CHAT_TYPING_TIMEOUT_SECONDS
    await publish_now(
        protocol.room_group(room.pk),
        protocol.TypingNow(user=protocol.user_of(user), expires_in=int(timeout * 1000)),
    )
