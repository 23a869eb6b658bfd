"""Reads of the accounts app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from accounts import logins
from accounts.models import AccountName
from accounts.names import username_skeletons
from common.redis import get_redis

logger = logging.getLogger(__name__)


def username_taken(username: str, *, exclude_pk: int | None = None) -> bool:
    forms = username_skeletons(username)
    names = AccountName.objects.filter(Q(skeleton__in=forms) | Q(folded_skeleton__in=forms))
    if exclude_pk is not None:
        names = names.exclude(user_id=exclude_pk)
    return names.exists()


@dataclass(frozen=True)
class LoginLock:
    """Why logins are refused for now: too many failures for ``scope``, for ``seconds``."""

    scope: logins.Scope
    seconds: int

    @property
    def minutes(self) -> int:
        return logins.minutes(self.seconds)


def login_lock(*, username: str, address: str) -> LoginLock | None:
    """Whether a login to ``username`` from ``address`` is refused: its account's or its
    address's failures are at their limit (the account's said first: it is the one a
    person can do something about). Redis away: not refused."""
    names = logins.keys(username=username, address=address)
    try:
        with get_redis(timeout=2).pipeline(transaction=False) as pipe:
            for name in names.values():
                pipe.get(name)
                pipe.ttl(name)
            replies = pipe.execute()
    except Exception:
        logger.warning("login failure counts unavailable, allowing", exc_info=True)
        return None
    for index, scope in enumerate(names):
        count, ttl = replies[2 * index], replies[2 * index + 1]
        if count is not None and int(count) >= settings.LOGIN_FAILURE_LIMITS[scope][0] and ttl > 0:
            return LoginLock(scope=scope, seconds=int(ttl))
    return None
