"""Reads of the accounts app."""

from __future__ import annotations

from django.db.models import Q

from accounts.models import AccountName
from accounts.names import username_skeletons


def username_taken(username: str, *, exclude_pk: int | None = None) -> bool:
    forms = username_skeletons(username)
    names = AccountName.objects.filter(Q(skeleton__in=forms) | Q(folded_skeleton__in=forms))
    if exclude_pk is not None:
        names = names.exclude(user_id=exclude_pk)
    return names.exists()
