"""Two adjustments to autobahn (daphne's WebSocket layer), made in the daphne process
before daphne builds its factory (daphne has no options for them).

- Protocol failures are answered with a close frame, not a dropped connection. By
  default autobahn drops the TCP connection when a client breaks the protocol or a limit
  (a frame over ``--websocket-max-frame-size``), so the browser only sees 1006. With
  ``failByDrop`` off it sends the close frame first (1009 for a frame too big, 1007 for
  invalid UTF-8, 1002 for a protocol error), and drops the connection only if the client
  does not answer within the close handshake time-out.
- The size limit applies to what clients send, not to what the server sends. autobahn
  checks both directions against ``--websocket-max-message-size``: with the limit at
  RT_MAX_FRAME_BYTES a history page over 32 KiB could not be sent, and with daphne's
  default (1 MiB) neither could a large resume. Our own frames are bounded by the page
  and resume settings instead.
"""

from __future__ import annotations

from typing import Any

from autobahn.websocket.protocol import WebSocketProtocol, WebSocketServerFactory

_MARK = "_rtsite_patched"


def install() -> None:
    reset = WebSocketServerFactory.resetProtocolOptions
    if getattr(reset, _MARK, False):
        return

    def reset_protocol_options(self: Any) -> None:
        reset(self)
        self.failByDrop = False

    send = WebSocketProtocol.sendMessage

    def send_message(self: Any, payload: bytes, *args: Any, **kwargs: Any) -> None:
        limit = self.maxMessagePayloadSize
        self.maxMessagePayloadSize = 0  # outgoing: not limited (single-threaded reactor)
        try:
            send(self, payload, *args, **kwargs)
        finally:
            self.maxMessagePayloadSize = limit

    setattr(reset_protocol_options, _MARK, True)
    WebSocketServerFactory.resetProtocolOptions = reset_protocol_options
    WebSocketProtocol.sendMessage = send_message
