"""Receivers: the room cache, and members who join or leave a room's group."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from chat import services


def user_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """A user joined or left groups (the admin's user form, ``user.groups.add``), or a
    group gained or lost users: the private rooms of those groups follow, live. A clear
    is read before it happens (``pre_clear``) so its groups are known."""
    if action == "pre_clear":
        if reverse:  # group.user_set.clear()
            instance._chat_cleared = set(instance.user_set.values_list("pk", flat=True))
        else:
            instance._chat_cleared = set(instance.groups.values_list("pk", flat=True))
        return
    if action == "post_clear":
        pk_set, joined = getattr(instance, "_chat_cleared", set()), False
    elif action in ("post_add", "post_remove"):
        joined = action == "post_add"
    else:
        return
    if not pk_set:
        return
    if reverse:  # the instance is a group; pk_set are users
        for user in get_user_model().objects.filter(pk__in=pk_set):
            services.members_user_groups_changed(user=user, groups={instance.pk}, joined=joined)
    else:
        services.members_user_groups_changed(user=instance, groups=set(pk_set), joined=joined)
