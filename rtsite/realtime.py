"""Group broadcasts: the one place a frame leaves for a channel-layer group.

A frame is JSON-encoded once here, not once per socket; consumers forward the text.
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


def _event(event_type: str, frame: Mapping[str, Any]) -> dict[str, str]:
    return {"type": event_type, "frame": encode(frame)}


def _send(group: str, event: dict[str, str]) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, event)
    except Exception:
        # The data is committed: clients that missed this frame recover it on resume.
        logger.exception("broadcast of %s to %s failed", event["type"], group)


def publish_on_commit(group: str, event_type: str, frame: Mapping[str, Any]) -> None:
    """Send ``frame`` to ``group`` once the current transaction commits (now if none).

    A rolled-back transaction sends nothing.
    """
    transaction.on_commit(partial(_send, group, _event(event_type, frame)))


async def publish_now(group: str, event_type: str, frame: Mapping[str, Any]) -> None:
    """Send an ephemeral frame (typing, presence) that has no database write behind it."""
    try:
        await get_channel_layer().group_send(group, _event(event_type, frame))
    except Exception:
        logger.exception("broadcast of %s to %s failed", event_type, group)
