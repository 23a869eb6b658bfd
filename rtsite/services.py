"""Account-wide changes to open sockets: closing them at logout or deactivation.

Every socket of a logged-in user joins two hub groups at connect (``rtsite.consumers``):
one for the user and one for the login session, so a logout closes that session's
sockets (other devices stay) and a deactivated account loses all of its sockets.
"""

from __future__ import annotations

import hashlib

from rtsite.realtime import publish_on_commit

EVENT_CLOSE = "rt.close"


def user_group(user_id: int) -> str:
    return f"rt.user.{user_id}"


def session_group(session_key: str) -> str:
    # A digest, not the key: group names are visible in Redis.
    return "rt.session." + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def sockets_close(*, user_id: int | None = None, session_key: str | None = None) -> None:
    """Close the user's (or one session's) sockets on every process, after commit."""
    frame = {"type": "closing", "reason": "logged out"}
    if user_id is not None:
        publish_on_commit(user_group(user_id), EVENT_CLOSE, frame)
    if session_key:
        publish_on_commit(session_group(session_key), EVENT_CLOSE, frame)
