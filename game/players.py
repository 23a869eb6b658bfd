"""What every game and arena action checks first."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from game.models import PairingLock
from realtime.errors import ActionError, ErrorCode
from realtime.selectors import user_is_active


def player_check(user: Any) -> None:
    # In the database, every time: a deactivated account is refused at its next action.
    if not getattr(user, "is_authenticated", False) or not user_is_active(user=user):
        raise ActionError(ErrorCode.AUTH_REQUIRED, "Log in to play.")


def pairing_lock() -> None:
    """Quick play pairs one player at a time (games and arenas alike): this row's lock."""
    if not list(PairingLock.objects.select_for_update().filter(pk=1)):
        try:
            with transaction.atomic():
                PairingLock.objects.create(pk=1)
        except IntegrityError:
            pass  # made by a quick play running at the same time
        PairingLock.objects.select_for_update().get(pk=1)
