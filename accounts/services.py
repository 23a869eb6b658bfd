"""Writes of the accounts app."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from accounts import logins
from accounts.models import AccountName
from accounts.names import username_skeletons
from common.logs import Outage
from common.redis import get_redis

logger = logging.getLogger(__name__)

# Redis away: logins are neither counted nor refused; said once per outage.
_outage = Outage(logger, "login failure counts unavailable, allowing")


def account_name_sync(*, user: Any) -> None:
    """Keep the user's skeletons in step with their username (on every save)."""
    skeleton, folded = username_skeletons(user.get_username())
    AccountName.objects.update_or_create(
        user=user, defaults={"skeleton": skeleton, "folded_skeleton": folded}
    )


# Adds one failure to each key, starting its window at the first (KEYS: the counts;
# ARGV: each one's window in seconds). Returns the counts.
_FAILURE_ADD = """
local counts = {}
for i, name in ipairs(KEYS) do
  counts[i] = redis.call('INCR', name)
  if counts[i] == 1 or redis.call('TTL', name) < 0 then
    redis.call('EXPIRE', name, ARGV[i])
  end
end
return counts
"""


def login_failure_record(*, username: str, address: str) -> dict[logins.Scope, int]:
    """Count a failed login against the account tried and the client's address. Redis
    away: nothing is counted (logins go on; ``selectors.login_lock`` lets them in too)."""
    names = logins.keys(username=username, address=address)
    limits = settings.LOGIN_FAILURE_LIMITS
    try:
        counts = get_redis(timeout=2).eval(
            _FAILURE_ADD, len(names), *names.values(), *(limits[scope][1] for scope in names)
        )
    except Exception as error:
        _outage.failed(error)
        return {}
    _outage.answered()
    return {scope: int(count) for scope, count in zip(names, counts, strict=True)}


def login_failures_clear(*, username: str) -> None:
    """A successful login: the account's count starts again (the address's does not, or
    one account of the attacker's own would reset the count of a spray)."""
    try:
        get_redis(timeout=2).delete(logins.key("account", logins.account_name(username)))
    except Exception as error:
        _outage.failed(error)
