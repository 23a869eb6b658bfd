"""Rooms: creation, retention, mutes, and each user's mute of a room's notifications."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from chat import protocol, roles
from chat.models import Message, Mute, Room, RoomNotificationMute
from chat.selectors import member_role, top_message_id
from realtime.broadcast import publish_on_commit
from realtime.errors import ActionError, ErrorCode


def room_create(
    *,
    slug: str,
    title: str,
    description: str = "",
    retention: int = 0,
    retention_days: int = 0,
    private: bool = False,
    group: Group | None = None,
) -> Room:
    """A new room (its members, if private, are added with ``member_add``)."""
    room = Room(
        slug=slug,
        title=title,
        description=description,
        retention=retention,
        retention_days=retention_days,
        private=private,
        group=group,
    )
    room.full_clean()
    room.save()
    return room


def room_edit(*, room: Room, by: Any, topic: str, description: str) -> Room:
    """``by`` (an owner or moderator; staff in a public room) changes the room's topic and
    description; its open pages show them at once."""
    actor = member_role(room=room, user=by)
    if not roles.manages(actor, staff=by.is_staff, private=room.private):
        raise ActionError(
            ErrorCode.FORBIDDEN, "Only the room's owners and moderators can change it."
        )
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        room.topic, room.description = topic, description
        room.full_clean()
        Room.objects.filter(pk=room.pk).update(topic=room.topic, description=room.description)
        publish_on_commit(
            protocol.room_group(room.pk),
            protocol.RoomUpdated(room=protocol.RoomData.of(room)),
            extra={"topic": room.topic, "description": room.description},
        )
    return room


def room_notifications_mute(*, room: Room, user: Any, muted: bool) -> bool:
    """The user wants no notifications from the room (``muted``), or wants them again.
    Mentions there still count on the room list; they notify (and email) nothing.
    Returns whether anything changed."""
    if muted:
        _, created = RoomNotificationMute.objects.get_or_create(room=room, user=user)
        return created
    deleted, _ = RoomNotificationMute.objects.filter(room=room, user=user).delete()
    return bool(deleted)


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
    if not room.retention and not room.retention_days:
        return 0  # every message kept: not even a query built (this runs on every post)
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


def user_mute(
    *,
    room: Room,
    user: Any,
    created_by: Any = None,
    reason: str = "",
    expires_at: datetime | None = None,
    mute_id: int | None = None,
) -> Mute:
    """Mute a user in a room, until ``expires_at`` (None: until lifted); their open pages
    of it disable the composer at once, and enable it again when the mute lapses. Muting
    again changes the mute: an expiry moved into the past lifts it at once.

    ``mute_id``: the mute being edited (the admin's change form and the room's inline),
    which may have named another user or room: that one is lifted, live too."""
    with transaction.atomic():
        if mute_id is not None:
            earlier = Mute.objects.select_related("room").filter(pk=mute_id).first()
            if earlier is not None and (earlier.room_id, earlier.user_id) != (room.pk, user.pk):
                mute_delete(mutes=[earlier])
        mute, _created = Mute.objects.update_or_create(
            room=room,
            user=user,
            defaults={"created_by": created_by, "reason": reason, "expires_at": expires_at},
        )
        _publish_muted(mute)
    return mute


def user_unmute(*, room: Room, user: Any) -> bool:
    return mute_delete(mutes=Mute.objects.filter(room=room, user=user)) > 0


def mute_delete(*, mutes: Iterable[Mute]) -> int:
    """Delete mutes (the admin's delete and bulk delete, ``user_unmute``): their users'
    open pages may post again at once. Returns how many went."""
    with transaction.atomic():
        ids = [mute.pk for mute in mutes]
        gone = list(Mute.objects.select_related("room").filter(pk__in=ids))
        Mute.objects.filter(pk__in=[mute.pk for mute in gone]).delete()
        for mute in gone:
            _publish_muted(mute, lifted=True)
    return len(gone)


def _publish_muted(mute: Mute, *, lifted: bool = False) -> None:
    """Whether the mute is in force now, and for how long, to the user's chat pages."""
    until = mute.expires_at
    muted = not lifted and (until is None or until > timezone.now())
    publish_on_commit(
        protocol.user_group(mute.user_id),
        protocol.Muted(
            room=mute.room.slug,
            muted=muted,
            expires_in=protocol.expires_in(until) if muted else None,
        ),
        extra={
            "room_id": mute.room_id,
            "muted": muted,
            "until": until.isoformat() if muted and until is not None else None,
        },
    )
