"""Unsubscribe links: a user and the kinds an email was about, signed.

Signed with the site's SECRET_KEY and a salt of their own (a token made for anything
else never reads as one of these), never expiring: a link in an old email must still
work. Anyone holding the email may use it, without logging in: that is what RFC 8058's
one-click unsubscribe asks, and all it can do is turn those emails off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core import signing

from notifications.models import EMAILED_KINDS

SALT = "notifications.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    kinds: tuple[str, ...]


def unsubscribe_token(*, user_id: int, kinds: Iterable[str]) -> str:
    ordered = [str(kind) for kind in EMAILED_KINDS if kind in set(kinds)]
    return signing.dumps({"u": user_id, "k": ordered}, salt=SALT)


def unsubscribe_read(token: str) -> Unsubscribe | None:
    """What a token says, or None when it is not one this site signed."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id, kinds = data.get("u"), data.get("k")
    if not isinstance(user_id, int) or not isinstance(kinds, list) or not kinds:
        return None
    if not all(kind in EMAILED_KINDS for kind in kinds):
        return None
    return Unsubscribe(user_id=user_id, kinds=tuple(kinds))
