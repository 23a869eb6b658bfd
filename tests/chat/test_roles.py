"""The pure rules of who may manage a room (chat.roles), as properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chat import roles

role = st.sampled_from(roles.ROLES)
maybe_role = st.one_of(st.none(), role)


@given(actor=maybe_role, target=maybe_role, owners=st.integers(0, 3), staff=st.booleans())
def test_nobody_removes_a_rooms_last_owner(
    actor: str | None, target: str | None, owners: int, staff: bool
) -> None:
    if target == roles.OWNER and owners <= 1:
        assert roles.remove_refusal(actor, target, owners=owners, staff=staff)
        assert roles.remove_refusal(target, target, owners=owners, self_leaving=True)


@given(actor=maybe_role, target=role, owners=st.integers(2, 5))
def test_members_remove_nobody_but_themselves(actor: str | None, target: str, owners: int) -> None:
    if actor in (roles.MEMBER, None):
        assert roles.remove_refusal(actor, target, owners=owners, private=True)
    assert roles.remove_refusal(actor, target, owners=owners, self_leaving=True) == ""


@given(target=role, owners=st.integers(2, 5))
def test_moderators_remove_only_members(target: str, owners: int) -> None:
    refused = bool(roles.remove_refusal(roles.MODERATOR, target, owners=owners, private=True))
    assert refused is (target != roles.MEMBER)


@given(actor=maybe_role, new=role, private=st.booleans(), staff=st.booleans())
def test_only_owners_give_roles_above_member_and_staff_not_in_private_rooms(
    actor: str | None, new: str, private: bool, staff: bool
) -> None:
    allowed = roles.add_refusal(actor, new, staff=staff, private=private) == ""
    may_manage = actor in (roles.OWNER, roles.MODERATOR) or (staff and not private)
    assert allowed is (
        may_manage and (new == roles.MEMBER or actor == roles.OWNER or (staff and not private))
    )


@given(target=role, new=role, owners=st.integers(1, 3))
def test_a_role_change_keeps_an_owner(target: str, new: str, owners: int) -> None:
    refusal = roles.role_refusal(roles.OWNER, target, new, owners=owners)
    assert bool(refusal) is (target == roles.OWNER and new != roles.OWNER and owners <= 1)
