"""A client too slow to read its socket is dropped, not buffered for without bound.

A socket's outgoing frames queue in twisted's buffer when the client does not read them
(a stalled tab, a dead mobile link that has not timed out yet). A busy room would grow
that buffer for as long as the connection lasts. Past RT_MAX_SEND_BUFFER_BYTES the
connection is aborted at its next frame: the room is not slowed (writes never block),
the server's memory stays bounded, and the client resumes from its cursor when it
reconnects.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet import tcp

logger = logging.getLogger(__name__)

_state = {"limit": 0}  # 0: no limit


def buffered(connection: Any) -> int:
    return len(connection.dataBuffer) - connection.offset + connection._tempDataLen


def install(limit: int) -> None:
    """Wrap whatever ``write`` twisted's TCP connections have now (direct or buffered)."""
    _state["limit"] = limit
    if getattr(tcp.Connection.write, "_rtsite_send_limit", False):
        return
    write = tcp.Connection.write

    def limited_write(self: Any, data: bytes) -> None:
        # Checked before the write: one large frame (a resume) may exceed the limit by
        # itself; what is dropped is a client still that far behind at the next frame.
        limit = _state["limit"]
        if limit and self.connected and not self.disconnecting and buffered(self) > limit:
            logger.warning(
                "dropping a client that is not reading (%d bytes unsent)", buffered(self)
            )
            self.abortConnection()
            return
        write(self, data)

    limited_write._rtsite_send_limit = True  # type: ignore[attr-defined]
    tcp.Connection.write = limited_write
