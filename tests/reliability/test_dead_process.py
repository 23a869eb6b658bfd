"""A process killed (SIGKILL) leaves nothing behind for long: within
RT_PROCESS_DEAD_SECONDS plus a janitor pass its hub is out of its layer groups and its
sockets are out of the per-user socket count and the rooms' "online" counts, and a user
whose tabs reconnect to the surviving process right away is never refused with 4429
for sockets that no longer exist (told 1013, "try again later", at most, which the
client retries)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from chat.models import Room
from tests.conftest import Daphne, session_cookie, start_daphne, ws_connect, ws_next
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 4
ENV = {
    "RT_MAX_SOCKETS_PER_USER": str(CAP),
    "RT_HEARTBEAT_SECONDS": "0.5",
    "RT_PROCESS_DEAD_SECONDS": "2",
}


@pytest.fixture
def two_servers(django_db_setup: None, tmp_path: Path) -> Iterator[tuple[Daphne, Daphne]]:
    servers = (start_daphne(tmp_path, env=ENV), start_daphne(tmp_path, env=ENV))
    yield servers
    for server in servers:
        server.stop()


def project_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def group_members(group: str) -> set[str]:
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    return set(project_redis().zrange(f"{prefix}:group:{group}", 0, -1))


def hub_of(server: Daphne) -> str:
    """The hub channel the process registered (realtime.processes)."""
    client = project_redis()
    prefix = settings.REDIS_KEY_PREFIX
    for process_id in client.smembers(f"{prefix}:processes"):
        info = client.get(f"{prefix}:process:{process_id}")
        if info and f'"pid": {server.process.pid},' in info:
            return str(client.get(f"{prefix}:process:{process_id}:hub"))
    raise AssertionError("the process is not registered")


async def open_until_accepted(server: Daphne, path: str, cookie: str) -> tuple[Any, list[int]]:
    """Connect as live.js does: a close with a retryable code is tried again after a
    short back-off; 44xx is final. Returns the socket and the codes met on the way."""
    codes: list[int] = []
    while True:
        ws = await ws_connect(server, path, cookie)
        try:
            await ws_next(ws, "sync")
            return ws, codes
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            codes.append(code)
            if 4400 <= code < 4500:
                return None, codes
            await asyncio.sleep(0.3)


async def test_a_killed_process_is_forgotten_and_its_users_are_not_refused(
    two_servers: tuple[Daphne, Daphne],
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> None:
    doomed, survivor = two_servers
    room = await database_sync_to_async(make_room)()
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    path = f"/ws/chat/{room.slug}/"
    tabs = [await ws_connect(doomed, path, cookie) for _ in range(CAP)]
    for tab in tabs:
        await ws_next(tab, "sync")
    group = f"chat.room.{room.pk}"
    dead_hub = hub_of(doomed)
    assert dead_hub in group_members(group)

    doomed.process.kill()
    doomed.process.wait()
    killed_at = time.monotonic()
    # The user's tabs reconnect to the other process at once, all of them.
    reopened = await asyncio.gather(*(open_until_accepted(survivor, path, cookie) for _ in tabs))
    all_back = time.monotonic() - killed_at
    codes = [code for _, tab_codes in reopened for code in tab_codes]
    assert all(ws is not None for ws, _ in reopened), sorted(Counter(codes).items())
    assert 4429 not in codes

    # The dead hub leaves the room's group; its sockets leave the room's presence (the
    # reopened tabs are counted, not 2 x CAP).
    presence_key = f"{settings.REDIS_KEY_PREFIX}:presence:chat-room.{room.pk}"

    def forgotten() -> bool:
        return dead_hub not in group_members(group) and project_redis().zcard(presence_key) == CAP

    deadline = time.monotonic() + 10
    while not forgotten() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    forgotten_after = time.monotonic() - killed_at
    assert dead_hub not in group_members(group)
    assert project_redis().zcard(presence_key) == CAP
    report(
        f"[dead process] tabs={CAP} all_back_s={all_back:.2f} retried_codes={sorted(set(codes))} "
        f"forgotten_s={forgotten_after:.2f} (RT_PROCESS_DEAD_SECONDS=2, heartbeat 0.5 s)"
    )
    for ws, _ in reopened:
        await ws.close()
