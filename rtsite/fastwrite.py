"""Direct socket writes for daphne's TCP connections.

Twisted buffers every write and registers the socket with the event loop so the buffer
is flushed on a later loop pass: two ``epoll_ctl`` calls and an extra pass for every
frame. Broadcasting to thousands of sockets that was 40% of the server's time
(docs/performance.md). asyncio's own transports instead send at once and buffer only what
the kernel does not take; this gives twisted's plain TCP connections the same behaviour.

Only when nothing is buffered (so bytes never overtake earlier ones) and the connection
is plain TCP (TLS goes through its own layer). Any socket error leaves the data to
twisted's normal path, which reports the error and closes the connection as before.
Turned off with RT_DIRECT_WRITES=false.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    buffered_write = tcp.Connection.write

    def write(self: Any, data: bytes) -> None:
        if (
            data
            and self.connected
            and not self.TLS
            and not self._writeDisconnected
            and not self.dataBuffer
            and not self._tempDataBuffer
        ):
            try:
                sent = self.socket.send(data)
            except OSError:  # would block, or a real error: twisted's path decides
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        buffered_write(self, data)

    tcp.Connection.write = write


def installed() -> bool:
    return _installed
