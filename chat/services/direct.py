"""Direct conversations and blocking.

A direct conversation is a private room of kind ``direct`` whose members are fixed: one
per set of people (``direct_key``), found again when any of them starts it again. It
has everything a room has (history, unread state, edits, reactions, search, resume) by
being one; the room list shows these apart, titled by the other members' names."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from chat import protocol
from chat.models import Block, Kind, Role, Room
from chat.selectors import blocked_ids, direct_blocked
from chat.services.members import member_add
from realtime.broadcast import publish_on_commit
from realtime.errors import ActionError, ErrorCode


def _people(user: Any, usernames: list[str]) -> list[Any]:
    names = {name.strip().lstrip("@") for name in usernames if name.strip()}
    names.discard(user.get_username())
    if not names:
        raise ActionError(ErrorCode.INVALID, "Name at least one other person.")
    most = settings.CHAT_DIRECT_MAX_PEOPLE - 1
    if len(names) > most:
        raise ActionError(
            ErrorCode.INVALID,
            f"A direct conversation has at most {settings.CHAT_DIRECT_MAX_PEOPLE} people."
            " Make a private room for more.",
        )
    found = list(get_user_model().objects.filter(username__in=names, is_active=True))
    missing = sorted(names - {other.get_username() for other in found})
    if missing:
        raise ActionError(
            ErrorCode.NOT_FOUND,
            f"There is no one called {missing[0][:40]} here. Check the spelling of the name.",
        )
    return sorted(found, key=lambda other: other.get_username())


def direct_open(*, user: Any, usernames: list[str]) -> Room:
    """The direct conversation of ``user`` with these people: the one they already have,
    or a new one, which appears at once in every member's room list. Refused if one of
    them blocked ``user``, or ``user`` blocked one of them."""
    others = _people(user, usernames)
    mine = set(blocked_ids(user=user))
    for other in others:
        if other.pk in mine:
            raise ActionError(
                ErrorCode.FORBIDDEN,
                f"You blocked {other.get_username()}. Unblock them to write to them.",
            )
    if Block.objects.filter(blocker__in=others, blocked=user).exists():
        raise ActionError(
            ErrorCode.FORBIDDEN, "You cannot start a direct conversation with these people."
        )
    people = [user, *others]
    key = ".".join(str(pk) for pk in sorted(person.pk for person in people))
    found = Room.objects.filter(direct_key=key).first()
    if found is not None:
        return found
    title = ", ".join(sorted(person.get_username() for person in people))
    try:
        with transaction.atomic():
            room = Room.objects.create(
                slug=f"dm-{secrets.token_hex(8)}",
                title=title[:120],
                private=True,
                kind=Kind.DIRECT,
                direct_key=key,
            )
            for person in people:
                member_add(room=room, user=person, role=Role.MEMBER, added_by=user)
    except IntegrityError:  # started by another of them at the same moment
        return Room.objects.get(direct_key=key)
    return room


def direct_members_refuse(*, room: Room, author: Any) -> None:
    """A post to a direct conversation whose other members blocked the author is
    refused (the same words whoever blocked: who did is not told)."""
    if direct_blocked(room=room, author=author):
        raise ActionError(
            ErrorCode.FORBIDDEN,
            "Your message could not be delivered: someone here is not accepting your messages.",
        )


def user_block(*, user: Any, username: str, blocked: bool) -> list[int]:
    """``user`` blocks (or unblocks) ``username``; every page of ``user`` hears the new
    list (their messages fold away). Returns the ids ``user`` blocks now."""
    other = get_user_model().objects.filter(username=username).first()
    if other is None:
        raise ActionError(
            ErrorCode.NOT_FOUND,
            f"There is no one called {username[:40]} here. Check the spelling of the name.",
        )
    if other.pk == user.pk:
        raise ActionError(ErrorCode.INVALID, "You cannot block yourself.")
    with transaction.atomic():
        if blocked:
            Block.objects.get_or_create(blocker=user, blocked=other)
        else:
            Block.objects.filter(blocker=user, blocked=other).delete()
        ids = blocked_ids(user=user)
        publish_on_commit(
            protocol.user_group(user.pk), protocol.Blocks(ids=ids), extra={"ids": ids}
        )
    return ids
