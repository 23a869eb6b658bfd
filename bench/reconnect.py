"""Reconnect storm: a process holding N sockets is killed; every socket comes back on the
survivor, as live.js brings a page back, and nothing posted meanwhile is lost.

Two server processes. The sockets (N users in rooms of ``per_room``) connect to the first;
a publisher on the second posts to the rooms throughout. The first is SIGKILLed; each
socket reconnects to the second after live.js's delay (full jitter over 0.5 s; after a
handshake that failed, 1 s plus jitter doubling up to 15 s), resuming from its cursor
(``?after_id=``, ours). Measured: the time from the kill until every socket is back, and,
for ours, every message stored in each room against what each socket of the room got
(live, or in its resume).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import websockets

from bench import load
from bench.stacks import Ours, Stack

BASE_DELAY = 0.5
MAX_DELAY = 15.0
REFUSED_DELAY = 1.0


@dataclass
class Socket:
    index: int
    room: str
    ws: Any = None
    cursor: int = 0
    got: set[str] = field(default_factory=set)
    back_at: float | None = None
    attempts: int = 0


def _note(stack: Stack, sock: Socket, raw: str, prefix: str) -> bool:
    """Record a frame; True if it is the socket's sync (it is in)."""
    if isinstance(stack, Ours):
        if raw.startswith('{"type":"sync"'):
            frame = json.loads(raw)
            sock.cursor = max(sock.cursor, frame["cursor"])
            for message in frame["messages"]:
                if message["body"].startswith(prefix):
                    sock.got.add(message["body"])
            return True
        if raw.startswith('{"type":"message"'):
            message = json.loads(raw)["message"]
            sock.cursor = max(sock.cursor, message["seq"])
            if message["body"].startswith(prefix):
                sock.got.add(message["body"])
        return False
    tag = stack.read(raw, prefix)
    if tag is not None:
        sock.got.add(tag)
    return False


async def _read(stack: Stack, sock: Socket, prefix: str, joined: asyncio.Event) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for raw in sock.ws:
            if _note(stack, sock, raw, prefix):
                joined.set()


async def _open(stack: Stack, sock: Socket, port: int, headers: dict[str, str], prefix: str) -> Any:
    url = stack.url(port, sock.room)
    if isinstance(stack, Ours) and sock.cursor:
        url += f"?after_id={sock.cursor}"
    sock.ws = await websockets.connect(
        url,
        origin=f"http://127.0.0.1:{port}",
        additional_headers=headers,
        open_timeout=60,
        ping_interval=None,
        max_queue=None,
    )
    joined = asyncio.Event()
    reader = asyncio.create_task(_read(stack, sock, prefix, joined))
    if stack.waits_for_first_frame():
        await asyncio.wait_for(joined.wait(), 60)
    return reader


async def run(
    stack: Stack, *, sockets: int, per_room: int, rate: float, settle: float = 3.0
) -> dict[str, Any]:
    rooms = [f"bench-reconnect-{i}" for i in range(max(1, sockets // per_room))]
    # A user per socket, and a poster per room (a user may hold only so many sockets).
    headers = await asyncio.to_thread(stack.prepare, sockets + len(rooms), rooms)
    prefix = f"r{random.randrange(10**8)}:"
    stack.start(2)
    victim, survivor = stack.ports
    readers: list[asyncio.Task[None]] = []
    socks = [Socket(i, rooms[i % len(rooms)]) for i in range(sockets)]
    try:
        gate = asyncio.Semaphore(200)

        async def first(sock: Socket) -> None:
            async with gate:
                for attempt in range(20):  # a shed handshake (503) comes back later
                    try:
                        readers.append(
                            await _open(stack, sock, victim, headers[sock.index], prefix)
                        )
                        return
                    except Exception:
                        await asyncio.sleep(REFUSED_DELAY + random.uniform(0, attempt))
                raise RuntimeError(f"socket {sock.index} never connected")

        await asyncio.gather(*(first(s) for s in socks))
        posts: dict[str, list[str]] = {room: [] for room in rooms}
        stop = asyncio.Event()
        room_sockets: dict[str, Any] = {}

        async def post() -> None:
            # One socket per room on the survivor (a member of each posting), round robin.
            k = 0
            while not stop.is_set():
                room = rooms[k % len(rooms)]
                ws = room_sockets.get(room)
                if ws is None:
                    try:
                        ws = room_sockets[room] = await websockets.connect(
                            stack.url(survivor, room),
                            origin=f"http://127.0.0.1:{survivor}",
                            additional_headers=headers[sockets + k % len(rooms)],
                            ping_interval=None,
                            max_queue=None,
                        )
                    except Exception:  # shed in the storm: this room's turn comes again
                        k += 1
                        await asyncio.sleep(1 / rate)
                        continue
                tag = f"{prefix}{k}"
                posts[room].append(tag)
                await ws.send(stack.publish(tag))
                k += 1
                await asyncio.sleep(1 / rate)

        poster = asyncio.create_task(post())
        await asyncio.sleep(1)
        stack.processes[0].kill()
        killed = time.perf_counter()

        async def back(sock: Socket) -> None:
            attempt, opened = 0, True
            while True:
                ceiling = min(MAX_DELAY, BASE_DELAY * 2**attempt)
                floor = 0.0 if opened else REFUSED_DELAY
                await asyncio.sleep(floor + random.uniform(0, ceiling))
                attempt += 1
                sock.attempts += 1
                try:
                    readers.append(await _open(stack, sock, survivor, headers[sock.index], prefix))
                except Exception:
                    opened = False
                    continue
                sock.back_at = time.perf_counter() - killed
                return

        await asyncio.gather(*(back(s) for s in socks))
        all_back = time.perf_counter() - killed
        await asyncio.sleep(settle)
        stop.set()
        await poster
        await asyncio.sleep(settle)  # the last posts reach everyone
        stored: dict[str, list[str]] = {}
        if isinstance(stack, Ours):
            bodies = await asyncio.to_thread(stack.stored, prefix)
            for room in rooms:
                stored[room] = [b for b in bodies if b in set(posts[room])]
        expected = sum(len(stored.get(s.room, posts[s.room])) for s in socks)
        missing = sum(len(set(stored.get(s.room, posts[s.room])) - s.got) for s in socks)
        times = [s.back_at for s in socks if s.back_at is not None]
        result = {
            "sockets": sockets,
            "rooms": len(rooms),
            "all_back_s": round(all_back, 2),
            "back_p50_s": round(load.percentile(times, 50) or 0, 2),
            "back_p90_s": round(load.percentile(times, 90) or 0, 2),
            "retries": sum(s.attempts for s in socks) - sockets,
            "posted": sum(len(v) for v in posts.values()),
            "messages_missing": missing if isinstance(stack, Ours) else None,
            "deliveries_expected": expected if isinstance(stack, Ours) else None,
        }
        if isinstance(stack, Ours):
            every = [b for v in stored.values() for b in v]
            result["stored_duplicates"] = len(every) - len(set(every))
        for ws in room_sockets.values():
            with contextlib.suppress(Exception):
                await ws.close()
        return result
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await load.close_all([load.Client(s.ws, s.room, s.index) for s in socks if s.ws])
        stack.stop()
