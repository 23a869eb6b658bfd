"""Rooms: creation, retention, mutes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chat import protocol
from chat.models import Message, Mute, Room
from chat.selectors import top_message_id
from realtime.broadcast import publish_on_commit


def room_create(
    *, slug: str, title: str, description: str = "", retention: int = 0, retention_days: int = 0
) -> Room:
    room = Room(
        slug=slug,
        title=title,
        description=description,
        retention=retention,
        retention_days=retention_days,
    )
    room.full_clean()
    room.save()
    return room


def room_set_retention(*, room: Room, retention: int, retention_days: int) -> int:
    """Change a room's retention policy and apply it now; returns how many went."""
    room.retention, room.retention_days = retention, retention_days
    room.full_clean()
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(retention=retention, retention_days=retention_days)
        return room_prune(room=room)


def room_prune_locked(room: Room) -> int:
    """Delete what the room's policy no longer keeps (the room's row is locked). Pruning is
    storage policy, not moderation: open pages keep what they have shown."""
    stale = Message.objects.filter(room=room)
    cutoffs: list[int] = []
    if room.retention:
        keep_from = stale.order_by("-id").values_list("id", flat=True)[
            room.retention - 1 : room.retention
        ]
        cutoffs.extend(keep_from)
    if room.retention_days:
        # Ids grow with time: the first message young enough to keep marks the cut.
        since = timezone.now() - timedelta(days=room.retention_days)
        first_kept = (
            stale.filter(created_at__gte=since).order_by("id").values_list("id", flat=True).first()
        )
        cutoffs.append(
            first_kept if first_kept is not None else top_message_id(room_id=room.pk) + 1
        )
    if not cutoffs:
        return 0
    _total, by_model = stale.filter(id__lt=max(cutoffs)).delete()
    return by_model.get(Message._meta.label, 0)  # not the reactions and edits that went too


def room_prune(*, room: Room) -> int:
    """Apply the room's retention now (after it was lowered, say); returns how many went.

    Like pruning on post, this is storage policy: open pages keep what they have shown.
    """
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        return room_prune_locked(room)


def user_mute(*, room: Room, user: Any, created_by: Any = None, reason: str = "") -> Mute:
    """Mute a user in a room; their open pages of it disable the composer at once."""
    with transaction.atomic():
        mute, _created = Mute.objects.update_or_create(
            room=room, user=user, defaults={"created_by": created_by, "reason": reason}
        )
        _publish_muted(room, user, muted=True)
    return mute


def user_unmute(*, room: Room, user: Any) -> bool:
    with transaction.atomic():
        removed = Mute.objects.filter(room=room, user=user).delete()[0] > 0
        if removed:
            _publish_muted(room, user, muted=False)
    return removed


def _publish_muted(room: Room, user: Any, *, muted: bool) -> None:
    publish_on_commit(
        protocol.user_group(user.pk),
        protocol.Muted(room=room.slug, muted=muted),
        extra={"room_id": room.pk, "muted": muted},
    )
