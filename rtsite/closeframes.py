"""Protocol failures answered with a close frame, not a dropped connection.

Autobahn (daphne's WebSocket layer) by default drops the TCP connection when a client
breaks the protocol or a limit, e.g. a frame over ``--websocket-max-message-size``, so
the browser only sees 1006 ("abnormal closure"). With ``failByDrop`` off it sends the
close frame first (1009 for a frame too big, 1007 for invalid UTF-8, 1002 for a
protocol error) and drops the connection only if the client does not answer within the
close handshake time-out. daphne has no option for it, so it is set here, in the daphne
process, before daphne builds its factory.
"""

from __future__ import annotations

from typing import Any

from autobahn.websocket.protocol import WebSocketServerFactory

_MARK = "_rtsite_close_frames"


def install() -> None:
    reset = WebSocketServerFactory.resetProtocolOptions
    if getattr(reset, _MARK, False):
        return

    def reset_protocol_options(self: Any) -> None:
        reset(self)
        self.failByDrop = False

    setattr(reset_protocol_options, _MARK, True)
    WebSocketServerFactory.resetProtocolOptions = reset_protocol_options
