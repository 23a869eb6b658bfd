"""The WebSocket origin check: the same rule as Django's CSRF origin check.

Browsers send ``Origin`` with every WebSocket handshake, and the cookies of the site the
socket goes to, whoever's page opened it. So a handshake is let through only if its
origin is one a POST would be accepted from (``CsrfViewMiddleware._origin_verified``):

- the request's own origin: scheme, host and port, where the host (``Host``, or
  ``X-Forwarded-Host`` with ``USE_X_FORWARDED_HOST``) is in ``ALLOWED_HOSTS`` and the
  scheme is https for ``wss`` or when ``SECURE_PROXY_SSL_HEADER`` says so;
- or one of ``CSRF_TRUSTED_ORIGINS`` (exact, or ``https://*.example.com`` for subdomains).

A refused handshake costs no channel-layer channel (channels' ``OriginValidator`` opens
one through ``WebsocketDenier`` just to say no): daphne answers it with HTTP 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        try:
            headers[name.decode("latin1").lower()] = value.decode("latin1")
        except (AttributeError, UnicodeDecodeError):
            continue
    return headers


def _allowed_hosts() -> list[str]:
    # As HttpRequest.get_host(): with DEBUG on and no hosts set, local names only.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


def _is_secure(scope: dict[str, Any], headers: dict[str, str]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        meta_name, secure_value = proxy_header
        name = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
        value = headers.get(name, "")
        return value.split(",", 1)[0].strip() == secure_value
    return False


def _own_origin(scope: dict[str, Any], headers: dict[str, str]) -> str | None:
    host = headers.get("host", "")
    if settings.USE_X_FORWARDED_HOST and "x-forwarded-host" in headers:
        host = headers["x-forwarded-host"]
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    return f"{'https' if _is_secure(scope, headers) else 'http'}://{host}"


def origin_allowed(scope: dict[str, Any]) -> bool:
    headers = _headers(scope)
    origin = headers.get("origin")
    if not origin or origin == "null":
        return False
    if origin == _own_origin(scope, headers):
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, urlsplit(pattern).netloc[1:])
        for pattern in trusted
        if "://*." in pattern and urlsplit(pattern).scheme == parsed.scheme
    )


async def refuse_handshake(receive: Any, send: Any) -> None:
    """Refuse a WebSocket handshake from another origin (``realtime.middleware.SocketEntry``)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})  # daphne answers the handshake 403
