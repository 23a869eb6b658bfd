"""Chat load with clients that behave like the browser's: they reconnect after any
drop (to the next server, if there are several) and resume from the last message id
they have, counting what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from channels.db import database_sync_to_async

from chat.models import Room
from tests.conftest import session_cookie


@dataclass
class Reader:
    urls: list[str]  # ws://host:port of each server; the client moves on after a drop
    path: str
    cookie: str | None = None
    ids: set[int] = field(default_factory=set)
    duplicates: int = 0
    reconnects: int = 0
    cursor: int | None = None
    ahead: set[int] = field(default_factory=set)  # changes seen past a gap in the cursor
    server: int = 0
    ws: Any = None
    stopped: bool = False

    def _seen(self, message_id: int, seq: int) -> None:
        self._advance(seq)
        if message_id in self.ids:
            self.duplicates += 1  # the page drops it; counted to show how often
            return
        self.ids.add(message_id)

    def _synced(self, cursor: int) -> None:
        # A sync covers every change up to its cursor.
        self.cursor = max(self.cursor or 0, cursor)
        self.ahead = {seq for seq in self.ahead if seq > self.cursor}
        self._advance()

    def _advance(self, *seqs: int) -> None:
        # The cursor is the room's change counter (seq) up to which nothing is missing, as
        # live.js keeps it: two processes publish in the order their commits end, so a
        # change can arrive before the one committed just before it.
        self.ahead.update(seq for seq in seqs if self.cursor is None or seq > self.cursor)
        if self.cursor is None:
            return
        while self.cursor + 1 in self.ahead:
            self.cursor += 1
            self.ahead.discard(self.cursor)

    async def run(self) -> None:
        while not self.stopped:
            base = self.urls[self.server % len(self.urls)]
            query = "" if self.cursor is None else f"?after_id={self.cursor}"
            try:
                async with websockets.connect(
                    f"{base}{self.path}{query}",
                    origin=base.replace("ws://", "http://"),
                    additional_headers={"Cookie": self.cookie} if self.cookie else {},
                    open_timeout=5,
                    ping_interval=None,
                    max_queue=None,
                    max_size=None,  # a resume can be large; a browser takes it
                ) as ws:
                    self.ws = ws
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame["type"] == "sync":
                            self._synced(frame["cursor"])
                            for message in frame["messages"]:
                                self._seen(message["id"], message["seq"])
                        elif frame["type"] == "message":
                            self._seen(frame["message"]["id"], frame["message"]["seq"])
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            self.ws = None
            if self.stopped:
                return
            self.reconnects += 1
            self.server += 1
            await asyncio.sleep(random.uniform(0.1, 0.5))  # jitter, as live.js does


def poster_socket(base: str, path: str, cookie: str) -> Any:
    """A logged-in client's socket on the server at ``base`` (ws://host:port)."""
    return websockets.connect(
        f"{base}{path}",
        origin=base.replace("ws://", "http://"),
        additional_headers={"Cookie": cookie},
        open_timeout=5,
        ping_interval=None,
    )


@dataclass
class Poster:
    """Posts numbered messages at a fixed rate; ``committed`` are the acked ids."""

    urls: list[str]
    path: str
    cookie: str
    rate: float
    committed: list[int] = field(default_factory=list)
    commit_times: dict[int, float] = field(default_factory=dict)
    sent: int = 0
    refused: int = 0
    stopped: bool = False

    async def run(self) -> None:
        server = 0
        while not self.stopped:
            base = self.urls[server % len(self.urls)]
            try:
                async with poster_socket(base, self.path, self.cookie) as ws:
                    reader = asyncio.create_task(self._acks(ws))
                    try:
                        while not self.stopped:
                            self.sent += 1
                            await ws.send(
                                json.dumps({"type": "message.send", "body": f"load {self.sent}"})
                            )
                            await asyncio.sleep(1 / self.rate)
                    finally:
                        reader.cancel()
                        with contextlib.suppress(BaseException):
                            await reader
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            server += 1
            await asyncio.sleep(0.2)

    async def _acks(self, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "ack":
                self.committed.append(frame["id"])
                self.commit_times[frame["id"]] = time.monotonic()
            elif frame["type"] == "error":
                self.refused += 1


@dataclass
class CarefulPoster:
    """Posts as the browser's room page does: each message with a nonce and a ref, the
    unanswered ones sent again (same nonce) on the next socket, nothing sent on a socket
    after its ``closing`` frame. Counts what an operator cares about in a restart: sends
    that got no answer before their socket closed, errors, the close codes met."""

    urls: list[str]
    path: str
    cookie: str
    rate: float
    name: str = "careful"  # nonces (and bodies) are "<name>-<n>"
    acked: dict[str, int] = field(default_factory=dict)  # nonce -> stored message id
    errors: list[dict[str, Any]] = field(default_factory=list)
    unanswered: int = 0  # frames whose socket closed before their reply came
    closings: list[str] = field(default_factory=list)  # reasons of closing frames
    close_codes: list[int] = field(default_factory=list)
    made: int = 0
    stopped: bool = False
    ws: Any = None

    async def run(self) -> None:
        server = 0
        waiting: list[str] = []  # nonces sent without an answer, to send again
        while not self.stopped:
            base = self.urls[server % len(self.urls)]
            outstanding: dict[str, str] = {}  # ref -> nonce
            closing = asyncio.Event()
            try:
                async with poster_socket(base, self.path, self.cookie) as ws:
                    self.ws = ws
                    reader = asyncio.create_task(self._answers(ws, outstanding, closing))
                    try:
                        while not self.stopped and not closing.is_set():
                            nonce = waiting.pop(0) if waiting else self._new_nonce()
                            ref = f"r{nonce}-{len(outstanding)}-{time.monotonic_ns()}"
                            outstanding[ref] = nonce
                            frame = {"type": "message.send", "body": nonce, "nonce": nonce}
                            await ws.send(json.dumps({**frame, "ref": ref}))
                            with contextlib.suppress(TimeoutError):
                                async with asyncio.timeout(1 / self.rate):
                                    await closing.wait()
                        if closing.is_set():
                            await reader  # its answers come, then the close
                        else:  # stopped: the answers to what was sent, then close
                            deadline = time.monotonic() + 10
                            while outstanding and time.monotonic() < deadline:  # noqa: ASYNC110
                                await asyncio.sleep(0.02)
                            await ws.close()
                    finally:
                        reader.cancel()
                        with contextlib.suppress(BaseException):
                            await reader
                    self.close_codes.append(ws.close_code or 0)
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            self.ws = None
            self.unanswered += len(outstanding)
            waiting[:0] = [n for n in outstanding.values() if n not in self.acked]
            server += 1
            await asyncio.sleep(random.uniform(0.05, 0.3))

    def _new_nonce(self) -> str:
        self.made += 1
        return f"{self.name}-{self.made}"

    def nonces(self) -> set[str]:
        """Every nonce this poster made (each sent at least once)."""
        return {f"{self.name}-{n}" for n in range(1, self.made + 1)}

    async def _answers(self, ws: Any, outstanding: dict[str, str], closing: asyncio.Event) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "ack" and frame.get("ref") in outstanding:
                    self.acked[outstanding.pop(frame["ref"])] = frame["id"]
                elif frame["type"] == "error" and frame.get("ref") in outstanding:
                    outstanding.pop(frame["ref"])
                    self.errors.append(frame)
                elif frame["type"] == "closing":
                    self.closings.append(frame["reason"])
                    closing.set()
        except websockets.WebSocketException:
            pass
        closing.set()


def missing(readers: list[Reader], ids: list[int]) -> int:
    """How many (reader, message) deliveries of ``ids`` are still missing."""
    wanted = set(ids)
    return sum(len(wanted - reader.ids) for reader in readers)


async def wait_until_delivered(
    readers: list[Reader], ids: list[int], timeout: float
) -> float | None:
    """Seconds until every reader has every id, or None if not within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if missing(readers, ids) == 0:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    return None


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds (state kept by other tasks, so no event to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met")


async def stop(clients: list[Any], tasks: list[asyncio.Task[Any]]) -> None:
    """Stop readers and posters (no reconnect), close their sockets, end their tasks."""
    for client in clients:
        client.stopped = True
        ws = getattr(client, "ws", None)
        if ws is not None:
            await ws.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def rooms_under_load(
    urls: list[str],
    *,
    rooms: int,
    readers_per_room: int,
    posters_per_room: int,
    rate: float,
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
) -> tuple[list[Room], list[Reader], list[CarefulPoster]]:
    """Rooms, each with page-like readers spread over the servers and careful posters
    starting on one server after another (so the processes' seqs interleave)."""
    made = [await database_sync_to_async(make_room)(retention=0) for _ in range(rooms)]
    readers: list[Reader] = []
    posters: list[CarefulPoster] = []
    for number, room in enumerate(made):
        path = f"/ws/chat/{room.slug}/"
        readers += [Reader(urls, path, server=i % 2) for i in range(readers_per_room)]
        for i in range(posters_per_room):
            user = await database_sync_to_async(make_user)()
            cookie = await database_sync_to_async(session_cookie)(user)
            order = urls[i % 2 :] + urls[: i % 2]
            posters.append(CarefulPoster(order, path, cookie, rate, name=f"r{number}p{i}"))
    return made, readers, posters


def committed_by_room(posters: list[CarefulPoster]) -> dict[str, list[int]]:
    """The acked message ids of each room (by socket path)."""
    committed: dict[str, list[int]] = {poster.path: [] for poster in posters}
    for poster in posters:
        committed[poster.path] += poster.acked.values()
    return committed


async def wait_until_rooms_delivered(
    readers: list[Reader], committed: dict[str, list[int]], timeout: float
) -> float | None:
    """As ``wait_until_delivered``, each room's ids to its own readers."""
    waits = [
        await wait_until_delivered([r for r in readers if r.path == path], ids, timeout)
        for path, ids in committed.items()
    ]
    return None if None in waits else max(w or 0.0 for w in waits)


def lacking(readers: list[Reader], committed: dict[str, list[int]]) -> list[int]:
    """For each reader that lacks any of its room's committed ids, how many."""
    return [
        len(set(committed[reader.path]) - reader.ids)
        for reader in readers
        if not set(committed[reader.path]) <= reader.ids
    ]
