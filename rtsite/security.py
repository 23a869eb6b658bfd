"""The WebSocket origin check, without a channel-layer channel per refused handshake.

channels' ``OriginValidator`` refuses a handshake through ``WebsocketDenier``, a full
consumer that opens a channel-layer channel of its own (a Redis receive loop) just to
say no. A flood of cross-origin handshakes would each cost one; ours refuses in place.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings


class RefusingOriginValidator(OriginValidator):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("the origin check is for WebSocket connections only")
        parsed_origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                try:
                    parsed_origin = urlparse(value.decode("latin1"))
                except (UnicodeDecodeError, ValueError):
                    parsed_origin = None
        if self.valid_origin(parsed_origin):
            return await self.application(scope, receive, send)
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close"})  # daphne answers the handshake 403
        return None


def AllowedHostsOriginValidator(application: Any) -> RefusingOriginValidator:  # noqa: N802
    """channels' factory of the same name: origins must match ALLOWED_HOSTS."""
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return RefusingOriginValidator(application, allowed_hosts)
