"""Membership: private rooms' members, roles in every room, joining and leaving.

A change reaches every open page at once, on every process: the room's pages hear
``member``; an invited user's room lists gain the room (``room.added``); a removed
member's pages of a private room are told (``removed``) and closed, and their room lists
drop it. Sockets hold the viewer's role, changed by these broadcasts, so a write is
checked without a query (docs/decisions.md, "Private rooms")."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from chat import protocol, roles
from chat.models import Block, Kind, Membership, Mention, ReadState, Role, Room
from chat.selectors import direct_title, member_role, room_member_ids, unread_count
from chat.services.mentions import mention_subject
from chat.services.reads import read_open
from chat.services.rooms import room_create, user_mute, user_unmute
from notifications.services import notification_forget_subjects
from realtime.broadcast import publish_on_commit
from realtime.errors import ActionError, ErrorCode

REMOVED_MESSAGE = "You are no longer a member of this room."


def _owners(room: Room) -> int:
    return Membership.objects.filter(room=room, role=Role.OWNER).count()


def _listed(room: Room, user: Any) -> protocol.RoomListed:
    """The room as the user's room list shows it, counted from their cursor."""
    last_read = read_open(user=user, room=room)
    counts = unread_count(user=user.pk, room_id=room.pk, last_read_id=last_read)
    return protocol.RoomListed(
        slug=room.slug,
        kind=room.kind,
        title=direct_title(room, user),
        description=room.description,
        private=room.private,
        online=0,
        unread=counts.unread,
        mentions=counts.mentions,
        counted_to=counts.top_id,
    )


def _publish_member(room: Room, user: Any, role: str | None) -> None:
    publish_on_commit(
        protocol.room_group(room.pk),
        protocol.MemberChanged(user=protocol.user_of(user), role=role),
        extra={"user_id": user.pk, "role": role},
    )


def _publish_added(room: Room, user: Any) -> None:
    """The user's room lists gain the room (and, if private, its activity group)."""
    publish_on_commit(
        protocol.user_group(user.pk),
        protocol.RoomAdded(room=_listed(room, user)),
        extra={"private_room_id": room.pk if room.private else 0},
    )


def member_add(
    *, room: Room, user: Any, role: str = Role.MEMBER, added_by: Any = None
) -> Membership:
    """Make ``user`` a member of ``room`` with ``role`` (or change their role). They join
    it (a read cursor from its newest message), and their room lists show it at once."""
    if role not in roles.ROLES:
        raise ActionError(ErrorCode.INVALID, "A role is owner, moderator or member.")
    if not user.is_active:
        raise ActionError(ErrorCode.NOT_FOUND, "There is no such person here.")
    with transaction.atomic():
        membership, created = Membership.objects.update_or_create(
            room=room, user=user, defaults={"role": role}
        )
        if created and added_by is not None:
            Membership.objects.filter(pk=membership.pk).update(added_by=added_by)
        _publish_member(room, user, role)
        if created:
            _publish_added(room, user)
    return membership


def member_remove(*, room: Room, user: Any) -> bool:
    """End ``user``'s membership of ``room``. In a private room they lose it (unless its
    group still holds them): their open pages of it close, their room lists drop it, its
    mentions leave their notifications. Returns whether they are no longer a member."""
    with transaction.atomic():
        Membership.objects.filter(room=room, user=user).delete()
        still = member_role(room=room, user=user)
        if still is not None:
            _publish_member(room, user, still)
            return False
        _publish_member(room, user, None)
        if room.private:
            _forget_room(room, [user.pk])
    return True


def _forget_room(room: Room, user_ids: Iterable[int]) -> None:
    """Users who may no longer see a private room: its pages close, it leaves their room
    lists, their cursor goes, and so do the notifications of its mentions of them."""
    user_ids = list(user_ids)
    for user_id in user_ids:
        publish_on_commit(
            protocol.user_group(user_id),
            protocol.Removed(room=room.slug, message=REMOVED_MESSAGE),
            extra={"room_id": room.pk},
        )
        publish_on_commit(
            protocol.user_group(user_id),
            protocol.RoomRemoved(slug=room.slug, private=True),
            extra={"private_room_id": room.pk},
        )
    ReadState.objects.filter(room=room, user_id__in=user_ids).delete()
    mentioned = Mention.objects.filter(room=room, user_id__in=user_ids)
    subjects: dict[int, list[str]] = {}
    for user_id, message_id in mentioned.values_list("user_id", "message_id"):
        subjects.setdefault(user_id, []).append(mention_subject(message_id))
    notification_forget_subjects(subjects=subjects)


def room_leave(*, room: Room, user: Any) -> None:
    """The user leaves ``room``: a public room stops being counted for them (its cursor
    goes); a private one ends their membership. A room's only owner cannot leave it, nor
    anyone a direct conversation (its members are who it is between)."""
    if room.kind == Kind.DIRECT:
        raise ActionError(ErrorCode.FORBIDDEN, "A direct conversation cannot be left.")
    role = member_role(room=room, user=user)
    if role == Role.OWNER:
        refusal = roles.remove_refusal(role, role, owners=_owners(room), self_leaving=True)
        if refusal:
            raise ActionError(ErrorCode.FORBIDDEN, refusal)
    if room.private:
        if role is None:
            raise ActionError(ErrorCode.NOT_FOUND, "This room no longer exists.")
        with transaction.atomic():
            if not Membership.objects.filter(room=room, user=user).exists():
                raise ActionError(
                    ErrorCode.FORBIDDEN,
                    "You are a member through your group. Ask staff to take you out of it.",
                )
            member_remove(room=room, user=user)
        return
    with transaction.atomic():
        Membership.objects.filter(room=room, user=user).delete()
        ReadState.objects.filter(room=room, user=user).delete()
        if role is not None:
            _publish_member(room, user, None)
        publish_on_commit(
            protocol.user_group(user.pk), protocol.RoomRemoved(slug=room.slug, private=False)
        )


def _target(username: str) -> Any:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ActionError(
            ErrorCode.NOT_FOUND,
            f"There is no one called {username[:40]} here. Check the spelling of the name.",
        )
    return user


def member_invite(*, room: Room, by: Any, username: str, role: str = Role.MEMBER) -> Membership:
    """``by`` (an owner or moderator) invites ``username`` with ``role``."""
    if room.kind == Kind.DIRECT:
        raise ActionError(
            ErrorCode.FORBIDDEN,
            "People cannot be added to a direct conversation. Start a new one with everyone.",
        )
    actor = member_role(room=room, user=by)
    refusal = roles.add_refusal(actor, role, staff=by.is_staff, private=room.private)
    if refusal:
        raise ActionError(ErrorCode.FORBIDDEN, refusal)
    user = _target(username)
    if Membership.objects.filter(room=room, user=user).exists():
        raise ActionError(ErrorCode.INVALID, f"{user.get_username()} is already a member.")
    if Block.objects.filter(blocker=user, blocked=by).exists():
        # An invitation reaches them (their room list gains the room at once), as a
        # direct conversation would.
        raise ActionError(ErrorCode.FORBIDDEN, f"You cannot invite {user.get_username()}.")
    return member_add(room=room, user=user, role=role, added_by=by)


def member_kick(*, room: Room, by: Any, username: str) -> None:
    """``by`` (an owner or moderator) removes ``username`` from the room."""
    user = _target(username)
    if user.pk == by.pk:
        room_leave(room=room, user=by)
        return
    target = Membership.objects.filter(room=room, user=user).values_list("role", flat=True).first()
    if target is None and member_role(room=room, user=user) is not None:
        raise ActionError(
            ErrorCode.FORBIDDEN,
            f"{user.get_username()} is a member through the room's group. Staff can take"
            " them out of the group.",
        )
    refusal = roles.remove_refusal(
        member_role(room=room, user=by),
        target,
        owners=_owners(room),
        staff=by.is_staff,
        private=room.private,
    )
    if refusal:
        raise ActionError(ErrorCode.FORBIDDEN, refusal)
    member_remove(room=room, user=user)


def member_set_role(*, room: Room, by: Any, username: str, role: str) -> Membership:
    """``by`` (an owner) gives ``username`` another role."""
    if role not in roles.ROLES:
        raise ActionError(ErrorCode.INVALID, "A role is owner, moderator or member.")
    user = _target(username)
    target = Membership.objects.filter(room=room, user=user).values_list("role", flat=True).first()
    refusal = roles.role_refusal(
        member_role(room=room, user=by),
        target,
        role,
        owners=_owners(room),
        staff=by.is_staff and not room.private,
    )
    if refusal:
        raise ActionError(ErrorCode.FORBIDDEN, refusal)
    return member_add(room=room, user=user, role=role)


def members_group_changed(*, room: Room, before: set[int]) -> None:
    """The room's group or its users changed: who gained the room hears it, who lost it
    (with no membership of their own) is removed, live. ``before``: the members then."""
    after = room_member_ids(room=room)
    users = get_user_model().objects.in_bulk(after - before)
    for user in users.values():
        _publish_member(room, user, Role.MEMBER)
        if room.private:
            _publish_added(room, user)
    lost = before - after
    for user in get_user_model().objects.filter(pk__in=lost):
        _publish_member(room, user, None)
    if room.private and lost:
        _forget_room(room, lost)


def room_access_changed(*, room: Room, before: set[int], was_private: bool) -> None:
    """Staff changed who may see the room (made it private or public, or changed its
    group): everyone who lost it is removed live, everyone who gained it hears of it.
    ``before``: the members, and ``was_private``, before the change."""
    with transaction.atomic():
        if room.private and not was_private:
            # Pages of people who are not members close: each socket knows its own role.
            publish_on_commit(
                protocol.room_group(room.pk),
                protocol.Removed(room=room.slug, message=REMOVED_MESSAGE),
                event="chat.privacy",
                extra={"room_id": room.pk},
            )
        members_group_changed(room=room, before=before if was_private else set())


def members_user_groups_changed(*, user: Any, groups: set[int], joined: bool) -> None:
    """``user`` joined (or left) these groups: the private rooms of those groups gain (or
    lose) them, live, unless a membership of their own keeps them in."""
    rooms = Room.objects.filter(private=True, group__in=groups)
    own = set(
        Membership.objects.filter(user=user, room__in=rooms).values_list("room_id", flat=True)
    )
    with transaction.atomic():
        for room in rooms:
            if room.pk in own:
                continue
            if joined:
                _publish_member(room, user, Role.MEMBER)
                _publish_added(room, user)
            elif member_role(room=room, user=user) is None:
                _publish_member(room, user, None)
                _forget_room(room, [user.pk])


def room_start(*, user: Any, title: str, private: bool, description: str = "") -> Room:
    """A room made on the site by ``user``, its owner (a slug from the title, numbered if
    taken). A private room starts with its owner as its only member, and its slug ends
    in a random part: a room of the same title made by anyone else would otherwise be
    numbered, telling them that one exists, and its address could be guessed."""
    base = slugify(title)[:56] or "room"
    if private:
        base = f"{base[:51]}-{secrets.token_hex(6)}"
    for attempt in range(1, 50):
        slug = base if attempt == 1 else f"{base}-{attempt}"
        if Room.objects.filter(slug__iexact=slug).exists():
            continue
        try:
            with transaction.atomic():
                room = room_create(slug=slug, title=title, description=description, private=private)
                member_add(room=room, user=user, role=Role.OWNER)
                return room
        except IntegrityError:
            continue  # taken meanwhile: the next number
    raise ActionError(ErrorCode.INVALID, "Choose another title: rooms with this one abound.")


def member_mute(*, room: Room, by: Any, username: str, muted: bool, minutes: int = 0) -> None:
    """``by`` (an owner or moderator; staff in a public room) mutes ``username`` in the
    room for ``minutes`` (0: until lifted), or lifts it, as staff can in the admin. A
    moderator does not mute an owner or another moderator."""
    actor = member_role(room=room, user=by)
    if not roles.manages(actor, staff=by.is_staff, private=room.private):
        raise ActionError(
            ErrorCode.FORBIDDEN, "Only the room's owners and moderators can mute people."
        )
    user = _target(username)
    if user.pk == by.pk:
        raise ActionError(ErrorCode.INVALID, "You cannot mute yourself.")
    target = member_role(room=room, user=user)
    if target in roles.MANAGING and actor != roles.OWNER and not by.is_staff:
        raise ActionError(
            ErrorCode.FORBIDDEN, "Only the room's owners can mute an owner or a moderator."
        )
    if not muted:
        user_unmute(room=room, user=user)
        return
    until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    user_mute(room=room, user=user, created_by=by, expires_at=until)
