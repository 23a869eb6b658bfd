"""Peer: the seed's Tornado notification broadcaster (shared/seeds/000_…), made runnable.

As in the seed: an in-process list of open sockets, and every message a client sends is
written to every socket (``send_message_to_all``). No persistence, no auth, no Redis. The
only addition: one list per URL path, so the per-room chat scenario compares like with like.

    python bench/peers/tornado_broadcast.py PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict

import tornado.web
import tornado.websocket


class WebSocketHandler(tornado.websocket.WebSocketHandler):
    connections: dict[str, list[WebSocketHandler]] = defaultdict(list)

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, room: str = "") -> None:
        self.room = room
        self.connections[room].append(self)

    def on_close(self) -> None:
        self.connections[self.room].remove(self)

    def on_message(self, message: str | bytes) -> None:
        self.send_message_to_all(message)

    def send_message_to_all(self, message: str | bytes) -> None:
        for conn in self.connections[self.room]:
            conn.write_message(message)


def main() -> None:
    port = int(sys.argv[1])
    app = tornado.web.Application([(r"/websocket/?(.*)", WebSocketHandler)])

    async def serve() -> None:
        app.listen(port, address="127.0.0.1", backlog=2048)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
