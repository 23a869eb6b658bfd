"""The events processes send each other through the channel layer: a frame for a
group's sockets (``make_event``), a batch of them, a resync, a hub's self-ping.

Kept apart from the broadcast functions and the hub, which both speak it: each imports
this module and neither imports the other back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from realtime.protocol import ServerFrame, encode

# What a hub hands its sockets when broadcasts were lost: each resyncs from its cursor.
RESYNC_TYPE = "rt.resync"
# Many events in one layer message; each hub delivers each to its own group's sockets.
BATCH_TYPE = "rt.batch"


def is_stale(event: dict[str, Any]) -> bool:
    """Published more than RT_STALE_EVENT_SECONDS ago: resync rather than replay it."""
    sent_at = event.get("at")
    limit = settings.RT_STALE_EVENT_SECONDS
    return sent_at is not None and time.time() - sent_at > limit


# A process's heartbeat pings its own hub through the layer (readiness: the hub reads).
PING_TYPE = "rt.ping"


def event_of(frame: ServerFrame | Mapping[str, Any], event: str | None = None) -> str:
    """The layer event carrying ``frame``: ``event`` if given, else the frame's own."""
    event = event or getattr(frame, "event", None)
    if event is None:
        raise ValueError(f"{type(frame).__name__} is not broadcast (it declares no event)")
    return event


def make_event(
    group: str,
    event_type: str,
    frame: ServerFrame | Mapping[str, Any] | str,
    cursor: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    # "at": when it was published; a hub that gets it much later resyncs instead.
    event: dict[str, Any] = {
        "type": event_type,
        "group": group,
        "frame": frame if isinstance(frame, str) else encode(frame),
        "at": time.time(),
    }
    if cursor is not None:
        event["cursor"] = cursor
    if extra:
        event.update(extra)
    return event
