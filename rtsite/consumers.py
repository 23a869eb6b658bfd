"""The base JSON consumer every socket of the site is built on.

What it guarantees, so apps do not each re-learn it:
- every client frame is size-checked, rate-limited, parsed and validated against the
  app's declared frames before a handler runs; anything wrong gets an ``error`` frame
  and the socket stays open;
- no exception escapes to daphne: a failing handler is logged and answered with
  ``internal_error`` (channels' own JsonWebsocketConsumer lets a bad frame raise);
- broadcast frames arrive pre-encoded (``rtsite.realtime``) and are forwarded as text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from rtsite.errors import ActionError, ErrorCode
from rtsite.protocol import ClientFrame, encode, error_frame, parse_frame
from rtsite.ratelimit import TokenBucket

logger = logging.getLogger(__name__)

# Close codes 4000-4099 tell the browser client not to reconnect.
CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403


class JsonConsumer(AsyncWebsocketConsumer):
    client_frames: ClassVar[Mapping[str, ClientFrame]] = {}

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        self.rate_limit = TokenBucket(
            rate=getattr(settings, "RT_RATE_LIMIT_PER_SECOND", 5.0),
            burst=getattr(settings, "RT_RATE_LIMIT_BURST", 20),
        )
        self.max_frame_bytes: int = getattr(settings, "RT_MAX_FRAME_BYTES", 32 * 1024)
        await super().websocket_connect(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        try:
            await super().dispatch(message)
        except StopConsumer:
            raise
        except Exception:
            logger.exception("consumer %s failed on %s", type(self).__name__, message.get("type"))
            if message.get("type") == "websocket.connect":
                await self.close(code=1011)
            else:
                await self.send_error(ErrorCode.INTERNAL, "the server could not handle that")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error(ErrorCode.BAD_FRAME, "binary frames are not accepted")
            return
        # Cheap bound first: a str of n characters encodes to at most 4n bytes.
        if len(text_data) * 4 > self.max_frame_bytes and (
            len(text_data.encode("utf-8", "surrogatepass")) > self.max_frame_bytes
        ):
            await self.send_error(
                ErrorCode.TOO_LARGE, f"frame is larger than {self.max_frame_bytes} bytes"
            )
            return
        if not self.rate_limit.take():
            await self.send_error(ErrorCode.RATE_LIMITED, "too many frames; slow down")
            return
        ref: str | None = None
        try:
            spec, fields, ref = parse_frame(text_data, self.client_frames)
            await getattr(self, spec.handler_name)(ref=ref, **fields)
        except ActionError as error:
            await self.send_error(error.code, error.message, ref=ref)

    async def send_frame(self, frame: Mapping[str, Any]) -> None:
        await self.send(text_data=encode(frame))

    async def send_error(self, code: ErrorCode, message: str, *, ref: str | None = None) -> None:
        await self.send_frame(error_frame(code, message, ref))

    async def forward_frame(self, event: dict[str, str]) -> None:
        """Layer event handler: relay a frame encoded once by ``rtsite.realtime``."""
        await self.send(text_data=event["frame"])

    async def join_group(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        # channels discards every group in self.groups on disconnect.
        self.groups.append(group)

    async def on_ping(self, *, ref: str | None) -> None:
        await self.send_frame({"type": "pong", **({"ref": ref} if ref else {})})


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Refuses handshakes for unknown /ws/ paths (instead of a server-side traceback)."""

    async def connect(self) -> None:
        await self.close()
