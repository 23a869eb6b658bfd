"""Who may do what in a room: pure rules on roles (no Django), tested with hypothesis.

Roles are ``owner``, ``moderator`` and ``member`` (``chat.models.Role``), or None for
someone who is not a member (of a public room: anyone may read and post there). Owners
and moderators manage a room: invite, remove, edit its topic and description, delete
others' messages. Staff manage public rooms too; a private room is its members' alone
(staff reach it through the admin)."""

from __future__ import annotations

from collections.abc import Mapping

OWNER = "owner"
MODERATOR = "moderator"
MEMBER = "member"
ROLES = (OWNER, MODERATOR, MEMBER)
MANAGING = frozenset({OWNER, MODERATOR})
RANK = {OWNER: 0, MODERATOR: 1, MEMBER: 2}


def manages(role: str | None, *, staff: bool = False, private: bool = False) -> bool:
    """Whether someone with ``role`` may invite, remove, edit and moderate the room."""
    return role in MANAGING or (staff and not private)


def add_refusal(actor: str | None, role: str, *, staff: bool = False, private: bool = False) -> str:
    """Why ``actor`` may not give someone ``role`` by inviting them ("" if they may)."""
    if not manages(actor, staff=staff, private=private):
        return "Only the room's owners and moderators can invite people."
    if role != MEMBER and actor != OWNER and not (staff and not private):
        return "Only the room's owners can make someone an owner or a moderator."
    return ""


def remove_refusal(
    actor: str | None,
    target: str | None,
    *,
    owners: int,
    self_leaving: bool = False,
    staff: bool = False,
    private: bool = False,
) -> str:
    """Why ``actor`` may not remove someone whose role is ``target`` ("" if they may).
    ``owners``: how many owners the room has; ``self_leaving``: the actor leaves."""
    if target is None:
        return "That person is not a member of this room."
    if target == OWNER and owners <= 1:
        if self_leaving:
            return "You are this room's only owner. Make someone else an owner first."
        return "A room keeps at least one owner."
    if self_leaving:
        return ""
    if not manages(actor, staff=staff, private=private):
        return "Only the room's owners and moderators can remove people."
    if target != MEMBER and actor != OWNER and not (staff and not private):
        return "Only the room's owners can remove an owner or a moderator."
    return ""


def role_refusal(
    actor: str | None, target: str | None, new: str, *, owners: int, staff: bool = False
) -> str:
    """Why ``actor`` may not change a ``target`` member's role to ``new`` ("" if they may)."""
    if target is None:
        return "That person is not a member of this room."
    if actor != OWNER and not staff:
        return "Only the room's owners can change someone's role."
    if target == OWNER and new != OWNER and owners <= 1:
        return "A room keeps at least one owner."
    return ""


def owner_count(roles: Mapping[int, str]) -> int:
    return sum(1 for role in roles.values() if role == OWNER)
