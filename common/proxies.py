"""The client's address: the one the outermost trusted proxy saw.

A proxy in front of the site (the guide's nginx) says which address it saw in
``X-Forwarded-For``. A proxy that appends to the header (nginx's
``$proxy_add_x_forwarded_for``) keeps whatever the client wrote there in front of its own
entry, so only the entries the trusted proxies added, the right-most
``RT_TRUSTED_PROXY_COUNT``, can be believed. daphne's ``--proxy-headers`` takes the
left-most entry, the client's own words, so the site does not use it.

The address is settled once, where a connection enters the site
(``realtime.middleware.ProcessMiddleware``, for requests and sockets alike): it replaces
``scope["client"]``, so Django's ``REMOTE_ADDR`` (the login and sign-up throttle), the
visitor socket cap and every access log line read the same address. Why this and the
guide's nginx both, in docs/decisions.md ("Client addresses behind a proxy").
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# Headers that name a client's address on a proxy's behalf. The site reads only
# X-Forwarded-For (with RT_TRUSTED_PROXY_COUNT); /metrics refuses a request carrying any.
ADDRESS_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")

_state = {"warned": False}


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: int) -> str | None:
    """The address the outermost of ``trusted`` proxies saw: the ``trusted``-th entry of
    ``X-Forwarded-For`` from the right (``forwarded_for``: the header's values in the
    order they came). ``peer``, the connection's own address, when no proxy is trusted,
    when the header has fewer entries than there are trusted proxies (as werkzeug's
    ProxyFix), or when that entry is not an address."""
    if trusted <= 0:
        return peer
    entries = [entry.strip() for value in forwarded_for for entry in value.split(",")]
    if len(entries) < trusted:
        return peer
    try:
        return str(ipaddress.ip_address(entries[-trusted]))
    except ValueError:
        return peer


def settle_client(scope: dict[str, Any]) -> None:
    """Put the client's address in ``scope["client"]`` (port 0 when it came from the
    header). In place: the server made this scope and does not read it again, and a copy
    would live as long as each socket."""
    forwarded_for = [
        value.decode("latin1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    if not forwarded_for:
        return
    trusted = settings.RT_TRUSTED_PROXY_COUNT
    if not trusted and not _state["warned"]:
        _state["warned"] = True
        logger.warning(
            "a request came with X-Forwarded-For but RT_TRUSTED_PROXY_COUNT is 0: every "
            "client behind that proxy counts as the proxy's address (set it to the number "
            "of proxies in front of the site; docs/deploy.md)"
        )
    peer = scope.get("client")
    address = client_address(peer[0] if peer else None, forwarded_for, trusted)
    if address is not None and (not peer or address != peer[0]):
        scope["client"] = [address, 0]
