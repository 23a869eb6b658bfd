"""Writes of the accounts app."""

from __future__ import annotations

from typing import Any

from accounts.models import AccountName
from accounts.names import username_skeletons


def account_name_sync(*, user: Any) -> None:
    """Keep the user's skeletons in step with their username (on every save)."""
    skeleton, folded = username_skeletons(user.get_username())
    AccountName.objects.update_or_create(
        user=user, defaults={"skeleton": skeleton, "folded_skeleton": folded}
    )
