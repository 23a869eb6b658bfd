"""The site's ASGI application with a clock at each hop of a chat message (``make hops``).

A daphne process started on ``bench.hoptrace:application`` writes one line per hop,
``<name> <perf_counter>``, to the file named by RT_HOPS_FILE. ``perf_counter`` is
CLOCK_MONOTONIC on Linux, the same clock in every process of the machine, so the load
client's own send and receive times line up with the server's (``bench.hops``).

The wrappers are applied here, for the bench only: nothing in the site knows of them.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from rtsite.asgi import application  # noqa: F401 - what daphne serves

_fd = os.open(os.environ["RT_HOPS_FILE"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def mark(name: str) -> None:
    os.write(_fd, f"{name} {time.perf_counter():.7f}\n".encode())


def _around(owner: Any, attr: str, before: str | None, after: str | None) -> None:
    original = getattr(owner, attr)
    if hasattr(original, "__wrapped__"):
        return
    if _is_async(original):

        @functools.wraps(original)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            if before:
                mark(before)
            try:
                return await original(*args, **kwargs)
            finally:
                if after:
                    mark(after)

        setattr(owner, attr, wrapped_async)
    else:

        @functools.wraps(original)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if before:
                mark(before)
            try:
                return original(*args, **kwargs)
            finally:
                if after:
                    mark(after)

        setattr(owner, attr, wrapped)


def _is_async(function: Callable[..., Any]) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)


def _install() -> None:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from chat import services
    from chat.consumers import ChatRoomConsumer
    from realtime import broadcast
    from realtime.consumers import JsonConsumer
    from realtime.hub import Hub

    _around(JsonConsumer, "receive", "frame_in", None)
    _around(ChatRoomConsumer, "on_message_send", "handler", "handler_done")
    _around(services, "write_allowed", None, "limit_checked")
    _around(services, "message_post", "thread_in", "thread_out")
    _around(BaseDatabaseWrapper, "_commit", "commit_start", "commit_end")

    original_group_send = broadcast._group_send

    async def group_send(group: str, event: dict[str, Any]) -> None:
        chat = event["type"] == "chat.message"
        if chat:
            mark("publish_start")
        await original_group_send(group, event)
        if chat:
            mark("publish_end")

    broadcast._group_send = group_send  # type: ignore[assignment]

    original_deliver = Hub._deliver

    async def deliver(self: Hub, event: dict[str, Any]) -> None:
        chat = event.get("type") == "chat.message"
        if chat:
            mark("hub_in")
        await original_deliver(self, event)
        if chat:
            mark("hub_done")

    Hub._deliver = deliver  # type: ignore[method-assign]

    original_send_frame = JsonConsumer.send_frame

    async def send_frame(self: JsonConsumer, frame: Any) -> None:
        await original_send_frame(self, frame)
        if frame.get("type") == "ack":
            mark("ack_sent")

    JsonConsumer.send_frame = send_frame  # type: ignore[method-assign]


_install()
