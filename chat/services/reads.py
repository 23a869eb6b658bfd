"""Read cursors: moved at once or batched per process, and the counts they change."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import protocol
from chat.models import Mention, ReadState, Room
from chat.selectors import (
    Unread,
    top_message_id,
    unread_count,
)
from chat.services.mentions import mention_subject
from common.batching import Batcher
from common.loops import PerLoop
from common.tasks import spawn
from notifications.services import notification_read_subjects
from realtime.broadcast import publish_now, publish_on_commit

logger = logging.getLogger(__name__)


def read_open(*, user: Any, room: Room) -> int:
    """The user's read cursor in the room; a first visit starts it at the newest message
    (history from before one came is not "unread")."""
    state = ReadState.objects.filter(user=user, room=room).first()
    if state is not None:
        return state.last_read_id
    state, _created = ReadState.objects.get_or_create(
        user=user, room=room, defaults={"last_read_id": top_message_id(room_id=room.pk)}
    )
    return state.last_read_id


def room_join(*, user: Any, room: Room) -> Unread:
    """Join a room without opening it (the room list's "Join"): a read cursor at its
    newest message, as a first visit starts one. From then on the room list counts what
    is posted there; every page of the user hears it. (Joining is having a cursor:
    opening a room joins it too.)"""
    with transaction.atomic():
        last_read_id = read_open(user=user, room=room)
        counts = unread_count(user=user.pk, room_id=room.pk, last_read_id=last_read_id)
        publish_on_commit(protocol.user_group(user.pk), protocol.Read.of(room.slug, counts))
    return counts


def read_mark(*, user: Any, room: Room, message_id: int) -> Unread | None:
    """Move the user's read cursor forward to ``message_id`` (never back). Every page of
    the user, in this room and on the room list, hears the new cursor and counts.
    Returns None when it did not move."""
    return read_marks(marks={(user.pk, room.pk): message_id}).get((user.pk, room.pk))


def read_marks(
    *, marks: dict[tuple[int, int], int], publish: bool = True
) -> dict[tuple[int, int], Unread]:
    """Move many read cursors at once: {(user id, room id): message id}.

    Consumers gather the ``read`` frames of a process for CHAT_READ_BATCH_SECONDS and
    write them here together: one transaction, and one UPDATE for all the readers of a
    room who reached the same message (readers at the bottom of a busy room all send its
    newest id). Counts cost nothing for them (nothing is left); only a reader who
    stopped short of the newest message is counted. Returns the cursors that moved; with
    ``publish`` off the caller sends their ``read`` frames (``_publish_reads``).

    A cursor goes no further than the room's newest message: it only moves forward, so
    an id past it (another room's, or made up) would silence the room's unread and
    mention counts for that user for good. (A page reads a message after it was
    committed, so its newest is never past the one read here.)"""
    moved: dict[tuple[int, int], Unread] = {}
    slugs = dict(
        Room.objects.filter(pk__in={room_id for _, room_id in marks}).values_list("pk", "slug")
    )
    tops = {room_id: top_message_id(room_id=room_id) for room_id in slugs}
    by_target: dict[tuple[int, int], list[int]] = defaultdict(list)
    for (user_id, room_id), message_id in marks.items():
        if room_id in tops:
            by_target[(room_id, min(message_id, tops[room_id]))].append(user_id)
    seen: dict[int, list[str]] = defaultdict(list)
    with transaction.atomic():
        for (room_id, message_id), user_ids in sorted(by_target.items()):
            states = ReadState.objects.filter(room_id=room_id, user_id__in=user_ids)
            cursors = dict(states.values_list("user_id", "last_read_id"))
            movers = {uid for uid, last in cursors.items() if last < message_id}
            # A user whose cursor was never made (a page from before read cursors existed).
            missing = [uid for uid in user_ids if uid not in cursors]
            ReadState.objects.bulk_create(
                [
                    ReadState(user_id=uid, room_id=room_id, last_read_id=message_id)
                    for uid in missing
                ],
                ignore_conflicts=True,
            )
            if movers:
                states.filter(user_id__in=movers, last_read_id__lt=message_id).update(
                    last_read_id=message_id, updated_at=timezone.now()
                )
            movers.update(missing)
            passed = _mentions_passed(
                room_id, message_id, {uid: cursors.get(uid, 0) for uid in movers}
            )
            for user_id, subjects in passed.items():
                seen[user_id].extend(subjects)
            for user_id in sorted(movers):
                counts = unread_count(
                    user=user_id, room_id=room_id, last_read_id=message_id, top_id=tops[room_id]
                )
                moved[(user_id, room_id)] = counts
                if publish:
                    publish_on_commit(
                        protocol.user_group(user_id),
                        protocol.Read.of(slugs[room_id], counts),
                    )
        # Read where it was made, a mention needs no notification still asking for it.
        notification_read_subjects(seen=seen)
    return moved


def _mentions_passed(room_id: int, upto: int, since: dict[int, int]) -> dict[int, list[str]]:
    """The mentions of these readers that their cursors just moved past (from ``since``,
    each reader's old cursor, to ``upto``), as notification subjects: one query."""
    if not since:
        return {}
    passed: dict[int, list[str]] = defaultdict(list)
    rows = Mention.objects.filter(
        room_id=room_id,
        user_id__in=since,
        message_id__gt=min(since.values()),
        message_id__lte=upto,
    ).values_list("user_id", "message_id")
    for user_id, message_id in rows:
        if message_id > since[user_id]:
            passed[user_id].append(mention_subject(message_id))
    return passed


async def _publish_reads(moved: dict[tuple[int, int], Unread], slugs: dict[int, str]) -> None:
    """The ``read`` frames of a written batch (committed already), paced over the next
    batch period and beside the ordered publisher, not in it. Sent at once, a second's
    worth of cursors would queue ahead of the messages behind them, in the publisher and
    in every hub's channel; their order among messages does not matter."""
    gap = settings.CHAT_READ_BATCH_SECONDS / max(1, len(moved))
    for (user_id, room_id), counts in moved.items():
        await publish_now(
            protocol.user_group(user_id),
            protocol.Read.of(slugs[room_id], counts),
        )
        await asyncio.sleep(gap)


@dataclass
class _Reads:
    """The read cursors of one process, gathered for CHAT_READ_BATCH_SECONDS and written
    together.

    A room of 1,000 readers watching messages arrive sends up to 1,000 reads a second;
    written one by one that is 1,000 transactions a second, the SQLite writer's whole
    capacity. Together they are one transaction and, for readers at the bottom, one
    UPDATE per room."""

    marks: dict[tuple[int, int], int] = field(default_factory=dict)
    slugs: dict[int, str] = field(default_factory=dict)


async def _write_reads(_key: None, reads: _Reads) -> None:
    try:
        moved = await database_sync_to_async(read_marks)(marks=reads.marks, publish=False)
    except Exception:  # a cursor is not worth a crash; the next read moves it
        logger.exception("writing %d read cursors failed", len(reads.marks))
        return
    # Sent while the next batch gathers (paced over about one period).
    spawn(_publish_reads(moved, reads.slugs), name="chat-reads-publish")


_read_batches: PerLoop[Batcher[None, _Reads]] = PerLoop(
    lambda: Batcher(_write_reads, new=_Reads, name="chat-reads")
)


async def read_mark_soon(*, user: Any, room: Room, message_id: int) -> None:
    """``read_mark``, batched with this process's other reads (see ``_Reads``); at
    once when CHAT_READ_BATCH_SECONDS is 0."""
    if settings.CHAT_READ_BATCH_SECONDS <= 0:
        await database_sync_to_async(read_mark)(user=user, room=room, message_id=message_id)
        return
    reads = _read_batches.get().pending(None, delay=settings.CHAT_READ_BATCH_SECONDS)
    reads.slugs[room.pk] = room.slug
    key = (user.pk, room.pk)
    reads.marks[key] = max(message_id, reads.marks.get(key, 0))
