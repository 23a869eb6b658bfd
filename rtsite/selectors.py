"""Reads shared by the apps."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model


def user_is_active(*, user: Any) -> bool:
    """Whether the account is still active now (not as it was when the socket opened)."""
    return get_user_model().objects.filter(pk=user.pk, is_active=True).exists()
