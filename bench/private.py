"""Private rooms and direct conversations under load (``make bench``, scenario "private").

- posts and connects in a private room of N members (every member's socket checks
  membership on connect; every post goes to members only), beside the same in a public
  room of ours and the peers' plain broadcast, in the same run;
- a user with M direct conversations opening the room list: time to its ``rooms`` frame
  (every conversation listed with its unread count) and to the HTTP page.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.request
from typing import Any

import websockets

from bench.stacks import Ours


class OursPrivate(Ours):
    """Our site, the bench room made private with every bench user a member."""

    def prepare(self, users: int, rooms: list[str]) -> list[dict[str, str]]:
        headers = super().prepare(users, rooms)
        from django.contrib.auth import get_user_model

        from chat.models import Membership, Role, Room

        members = list(get_user_model().objects.filter(username__startswith="bench"))
        for slug in rooms:
            room = Room.objects.get(slug=slug)
            Room.objects.filter(pk=room.pk).update(private=True)
            Membership.objects.bulk_create(
                [Membership(room=room, user=user, role=Role.MEMBER) for user in members],
                ignore_conflicts=True,
            )
        return headers


def make_conversations(stack: Ours, conversations: int) -> dict[str, str]:
    """``bench-dm`` with ``conversations`` direct conversations, each with one message
    (half of them read): its session's cookie header."""
    headers = stack.prepare(conversations + 1, [])
    from django.contrib.auth import get_user_model

    from chat import services
    from chat.models import Room

    users = list(get_user_model().objects.filter(username__startswith="bench").order_by("username"))
    me, others = users[0], users[1 : conversations + 1]
    for i, other in enumerate(others):
        room: Room = services.direct_open(user=other, usernames=[me.get_username()])
        message = services.message_post(room=room, author=other, body=f"hello {i}")
        if i % 2 == 0:
            services.read_mark(user=me, room=room, message_id=message.pk)
    return headers[0]


async def open_list(port: int, header: dict[str, str]) -> tuple[float, int]:
    """Seconds from opening ``/ws/chat/`` to its ``rooms`` frame, and how many it lists."""
    started = time.perf_counter()
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/chat/",
        additional_headers={**header, "Origin": f"http://127.0.0.1:{port}"},
    ) as ws:
        while True:
            raw = await ws.recv()
            if isinstance(raw, str) and raw.startswith('{"type":"rooms"'):
                return time.perf_counter() - started, len(json.loads(raw)["rooms"])


def get_page(port: int, header: dict[str, str]) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/chat/", headers=header)
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - loopback
        reply.read()
    return time.perf_counter() - started


async def direct_list_row(stack: Ours, conversations: int, repeats: int) -> dict[str, Any]:
    header = await asyncio.to_thread(make_conversations, stack, conversations)
    stack.start(1)
    try:
        port = stack.ports[0]
        opened = [await open_list(port, header) for _ in range(repeats)]
        pages = [await asyncio.to_thread(get_page, port, header) for _ in range(repeats)]
    finally:
        stack.stop()
    return {
        "scenario": "private",
        "variant": f"room list of a user with {conversations} direct conversations",
        "listed": opened[0][1],
        "socket_rooms_frame_ms": round(1000 * statistics.median(t for t, _ in opened), 1),
        "page_ms": round(1000 * statistics.median(pages), 1),
    }
