"""Auth group membership -> open notification sockets: a user added to a group while
their page is open gets that group's notifications without a reload."""

from __future__ import annotations

from typing import Any

from notifications import services

# Users of a group being cleared (group.user_set.clear()): Django names none after it.
_CLEARED = "_notifications_cleared_user_ids"


def on_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """``user.groups`` (reverse False: ``instance`` is a user) or ``group.user_set``
    (reverse True: ``pk_set`` holds users) changed."""
    if action == "pre_clear" and reverse:
        setattr(instance, _CLEARED, list(instance.user_set.values_list("pk", flat=True)))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        user_ids = [instance.pk]
    elif action == "post_clear":
        user_ids = getattr(instance, _CLEARED, [])
    else:
        user_ids = list(pk_set or ())
    services.notification_membership_changed(user_ids=user_ids)
