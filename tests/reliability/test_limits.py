"""Abuse over real daphne: oversized frames are closed with 1009 without the server
buffering them; a flood is cut to the allowed rate while other users carry on."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from chat import services as chat_services
from chat.models import Message, Room
from notifications.models import Notification
from tests.conftest import Daphne, session_cookie, start_daphne, ws_connect, ws_next
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)


async def send_then_receive(ws: Any, text: str) -> None:
    await ws.send(text)
    await ws.recv()


async def test_oversized_frames_close_with_1009_and_memory_stays_bounded(
    daphne_server: Daphne, make_room: Callable[..., Room]
) -> None:
    room = await database_sync_to_async(make_room)()
    server = psutil.Process(daphne_server.process.pid)
    rss_before = server.memory_info().rss
    for size in (settings.RT_MAX_FRAME_BYTES + 1, 10 * 2**20):
        for _ in range(5):
            ws = await ws_connect(daphne_server, f"/ws/chat/{room.slug}/")
            await ws_next(ws, "sync")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                # The close may come while the client is still sending a big frame.
                await send_then_receive(ws, json.dumps({"type": "ping", "pad": "x" * size}))
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009
    # Fifty-odd megabytes were offered; daphne refused each frame by its header.
    growth = server.memory_info().rss - rss_before
    report(f"[oversized frames] 10 closed with 1009; daphne RSS {growth / 2**20:+.1f} MiB")
    assert growth < 20 * 2**20
    # A frame at the limit is still read (and refused by the site, politely).
    ws = await ws_connect(daphne_server, f"/ws/chat/{room.slug}/")
    await ws_next(ws, "sync")
    await ws.send(json.dumps({"type": "ping", "ref": "ok"}))
    assert (await ws_next(ws, "pong"))["ref"] == "ok"
    await ws.close()


async def test_the_limit_is_on_what_clients_send_not_on_what_the_server_sends(
    daphne_server: Daphne, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()

    def post_long_history() -> None:
        for i in range(40):
            chat_services.message_post(room=room, author=author, body=f"{i} " + "y" * 1990)

    await database_sync_to_async(post_long_history)()
    ws = await ws_connect(daphne_server, f"/ws/chat/{room.slug}/")
    try:
        sync = await ws_next(ws, "sync")  # ~80 KB, over the 32 KiB incoming limit
        assert len(sync["messages"]) == 40
    finally:
        await ws.close()


async def test_a_flood_stores_only_the_allowed_rate_and_others_carry_on(
    daphne_server: Daphne, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    flooder = await database_sync_to_async(make_user)()
    other = await database_sync_to_async(make_user)()
    path = f"/ws/chat/{room.slug}/"
    flood = await ws_connect(
        daphne_server, path, await database_sync_to_async(session_cookie)(flooder)
    )
    calm = await ws_connect(
        daphne_server, path, await database_sync_to_async(session_cookie)(other)
    )
    try:
        await ws_next(flood, "sync")
        await ws_next(calm, "sync")

        async def calm_round_trip(body: str) -> float:
            sent = time.monotonic()
            await calm.send(json.dumps({"type": "message.send", "body": body}))
            while (await ws_next(calm, "message"))["message"]["body"] != body:
                pass
            return time.monotonic() - sent

        before = await calm_round_trip("calm before")
        start = time.monotonic()
        for i in range(1000):
            await flood.send(json.dumps({"type": "message.send", "body": f"flood {i}"}))
        # Meanwhile another user's message goes through.
        during = await calm_round_trip("calm during")
        acks = limited = 0
        while acks + limited < 1000:
            frame = json.loads(await asyncio.wait_for(flood.recv(), 10))
            if frame["type"] == "ack":
                acks += 1
            elif frame["type"] == "error":
                assert frame["code"] == "rate_limited"
                limited += 1
        elapsed = time.monotonic() - start
    finally:
        await flood.close()
        await calm.close()
    allowed = settings.RT_RATE_LIMIT_BURST + settings.RT_RATE_LIMIT_PER_SECOND * elapsed
    stored = await database_sync_to_async(Message.objects.filter(room=room, author=flooder).count)()
    report(
        f"[flood] 1000 messages in {elapsed:.1f}s: {stored} stored, {limited} rate_limited; "
        f"another user's round trip {before * 1000:.1f} ms before, {during * 1000:.1f} ms during"
    )
    assert stored == acks
    assert settings.RT_RATE_LIMIT_BURST <= stored <= allowed + 1
    assert limited == 1000 - stored


@pytest.fixture
def limited_server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    """A daphne process with the shipped limits on accounts and addresses (the shared
    test server lifts them for load tests), and a visitor cap small enough to reach. It
    takes client addresses from X-Forwarded-For, as behind the guide's nginx (one trusted
    proxy, docs/deploy.md): the cap counts across processes, and other servers of the run
    have visitors at 127.0.0.1."""
    server = start_daphne(
        tmp_path,
        env={
            "CHAT_POST_RATE_PER_SECOND": str(DEFAULT_POST_RATE),
            "CHAT_POST_BURST": str(DEFAULT_POST_BURST),
            "RT_MAX_SOCKETS_PER_ADDRESS": "5",
            "RT_TRUSTED_PROXY_COUNT": "1",
        },
    )
    yield server
    server.stop()


# The shipped defaults (rtsite/settings.py), which the limited server runs with.
DEFAULT_POST_RATE = 2.0
DEFAULT_POST_BURST = 20


async def test_one_account_flooding_from_30_sockets_is_held_to_its_own_rate(
    limited_server: Daphne, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    flooder = await database_sync_to_async(make_user)("flooder")
    target = await database_sync_to_async(make_user)("target")
    cookie = await database_sync_to_async(session_cookie)(flooder)
    path = f"/ws/chat/{room.slug}/"
    sockets = [await ws_connect(limited_server, path, cookie) for _ in range(30)]
    per_socket = 40
    try:
        for ws in sockets:
            await ws_next(ws, "sync")
        start = time.monotonic()

        async def flood(ws: Any, n: int) -> tuple[int, int]:
            for i in range(per_socket):
                await ws.send(json.dumps({"type": "message.send", "body": f"@target {n}.{i}"}))
            acks = limited = 0
            while acks + limited < per_socket:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["type"] == "ack":
                    acks += 1
                elif frame["type"] == "error":
                    assert frame["code"] == "rate_limited", frame
                    limited += 1
            return acks, limited

        results = await asyncio.gather(*(flood(ws, n) for n, ws in enumerate(sockets)))
        elapsed = time.monotonic() - start
    finally:
        for ws in sockets:
            await ws.close()
    acks = sum(a for a, _ in results)
    stored = await database_sync_to_async(Message.objects.filter(room=room).count)()

    def mentions() -> list[Notification]:
        return list(Notification.objects.filter(recipients__user=target))

    notified = await database_sync_to_async(mentions)()
    report(
        f"[flood, one account] 30 sockets x {per_socket} messages in {elapsed:.1f}s: "
        f"{stored} stored, {30 * per_socket - acks} rate_limited; "
        f"the mentioned user got {len(notified)} notification(s), counting {stored}"
    )
    assert stored == acks
    assert DEFAULT_POST_BURST <= stored <= DEFAULT_POST_BURST + DEFAULT_POST_RATE * elapsed + 1
    # Every stored mention folded into one notification that counts them.
    assert len(notified) == 1
    assert notified[0].fold_count == stored
    assert notified[0].title == f"flooder mentioned you {stored} times in {room.title}"


async def test_visitor_sockets_per_address_are_capped(
    limited_server: Daphne, make_user: Callable[..., Any]
) -> None:
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(session_cookie)(user)
    address = {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}"}  # a documentation range

    async def visitor() -> Any:
        return await ws_connect(limited_server, "/ws/notifications/", headers=address)

    visitors = [await visitor() for _ in range(5)]
    try:
        for ws in visitors:
            await ws_next(ws, "sync")
        sixth = await visitor()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws_next(sixth, "sync")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4429
        # Another address has places of its own.
        elsewhere = await ws_connect(limited_server, "/ws/notifications/")
        await ws_next(elsewhere, "sync")
        await elsewhere.close()
        # A logged-in user from the same address counts against their own cap only.
        member = await ws_connect(limited_server, "/ws/notifications/", cookie, headers=address)
        await ws_next(member, "sync")
        await member.close()
        # A place freed is a place taken again (once the server has seen the close).
        await visitors.pop().close()
        async with asyncio.timeout(10):
            while True:
                again = await visitor()
                try:
                    await ws_next(again, "sync")
                    break
                except websockets.ConnectionClosed:
                    await asyncio.sleep(0.1)
        visitors.append(again)
    finally:
        for ws in visitors:
            await ws.close()
