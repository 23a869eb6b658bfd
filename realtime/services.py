"""Account-wide changes to open sockets: closing them at logout, password change or
deactivation.

Every socket of a logged-in user joins two hub groups at connect (``realtime.consumers``):
one for the user and one for the login session, so a logout closes that session's
sockets (other devices stay), a password change closes every other session's sockets
(the session that made the change keeps its own), and a deactivated account loses all.

A login session is named by a random id kept in the session's data (``SESSION_ID_KEY``,
set at login), not by its key: Django changes the key when the password changes
(``update_session_auth_hash`` cycles it), and the sockets of that session must still be
known as that session's.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from realtime.broadcast import publish_on_commit
from realtime.protocol import Closing

EVENT_CLOSE = "rt.close"
SESSION_ID_KEY = "_rt_session_id"


def user_group(user_id: int) -> str:
    return f"rt.user.{user_id}"


def session_group(session_id: str) -> str:
    # A digest: group names are visible in Redis (and older sessions are named by key).
    return "rt.session." + hashlib.sha256(session_id.encode()).hexdigest()[:32]


def session_id(session: Any) -> str | None:
    """The login session's id: the one set at login, or (a session from before that was
    done) its key."""
    if session is None:
        return None
    return session.get(SESSION_ID_KEY) or session.session_key


def session_name(session: Any) -> None:
    """Give a session that has just logged in its id (kept when its key changes)."""
    session[SESSION_ID_KEY] = secrets.token_hex(16)


def sockets_close(
    *,
    user_id: int | None = None,
    session: str | None = None,
    reason: str = "logged out",
    keep_session: str | None = None,
) -> None:
    """Close the user's sockets (but those of ``keep_session``), or one session's, on
    every process, after commit. Sessions are given by ``session_id``."""
    frame = Closing(reason=reason)
    if user_id is not None:
        keep = {"keep": session_group(keep_session)} if keep_session else {}
        publish_on_commit(user_group(user_id), frame, event=EVENT_CLOSE, extra=keep)
    if session:
        publish_on_commit(session_group(session), frame, event=EVENT_CLOSE)
