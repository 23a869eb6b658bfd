"""Group broadcasts: the one place a frame leaves for a channel-layer group.

A frame is JSON-encoded once here, not once per socket; each process's hub
(``rtsite.hub``) hands the text to its sockets in the group. ``cursor`` is the id of the
stored object behind the frame, so a socket knows where to resume from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from rtsite.protocol import encode

logger = logging.getLogger(__name__)


def _event(
    group: str, event_type: str, frame: Mapping[str, Any], cursor: int | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": event_type, "group": group, "frame": encode(frame)}
    if cursor is not None:
        event["cursor"] = cursor
    return event


def _send(group: str, event: dict[str, Any]) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, event)
    except Exception:
        # The data is committed: clients that missed this frame recover it on resume.
        logger.exception("broadcast of %s to %s failed", event["type"], group)


def publish_on_commit(
    group: str, event_type: str, frame: Mapping[str, Any], *, cursor: int | None = None
) -> None:
    """Send ``frame`` to ``group`` once the current transaction commits (now if none).

    A rolled-back transaction sends nothing.
    """
    transaction.on_commit(partial(_send, group, _event(group, event_type, frame, cursor)))


async def publish_now(group: str, event_type: str, frame: Mapping[str, Any]) -> None:
    """Send an ephemeral frame (typing, presence) that has no database write behind it."""
    try:
        await get_channel_layer().group_send(group, _event(group, event_type, frame))
    except Exception:
        logger.exception("broadcast of %s to %s failed", event_type, group)
