"""What failed logins are counted under: the Redis keys of an account and an address.

Both counts are in Redis (shared by every process); the writes are in
``accounts.services``, the reads in ``accounts.selectors``."""

from __future__ import annotations

import hashlib
import ipaddress
import math
from typing import Literal

from django.conf import settings

Scope = Literal["account", "address"]

# An IPv6 client usually holds a whole /64: its addresses are one address here.
IPV6_PREFIX = 64


def address_group(address: str) -> str:
    """The address failures are counted under: IPv4 as it is, IPv6 by its /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]  # not an address (a test client's); counted as given
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def account_name(username: str) -> str:
    """The account failures are counted under: the name as typed, in any case (so
    "Alice" and "alice" share a count), hashed so Redis holds no names."""
    return hashlib.sha256(username.casefold().encode()).hexdigest()[:32]


def key(scope: Scope, value: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:login-failures:{scope}:{value}"


def keys(*, username: str, address: str) -> dict[Scope, str]:
    return {
        "account": key("account", account_name(username)),
        "address": key("address", address_group(address)),
    }


def minutes(seconds: float) -> int:
    """Seconds to wait, as whole minutes for people: never "0 minutes"."""
    return max(1, math.ceil(seconds / 60))
