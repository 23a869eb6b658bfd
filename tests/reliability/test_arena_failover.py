"""A snake arena on two daphne processes: players on each, the owner killed mid-round,
the other process takes the arena over from its snapshot and input log, and play goes
on where it was."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from game import services
from game.arena import store as arena_store
from game.arena import world as arena_world
from tests.conftest import Daphne, session_cookie, start_daphne, ws_connect
from tests.game.conftest import until_reported
from tests.reliability.chatload import until
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_servers(django_db_setup: None, tmp_path: Path) -> Iterator[tuple[Daphne, Daphne]]:
    servers = (start_daphne(tmp_path), start_daphne(tmp_path))
    yield servers
    for server in servers:
        server.stop()


class Client:
    """A real WebSocket client on an arena: it keeps every frame, and follows the world
    (the last tick, each snake's score) as a page does."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.epoch = 0
        self.tick = 0
        self.scores: dict[int, int] = {}
        self.players: set[int] = set()
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for text in self.ws:
                frame = json.loads(text)
                self.frames.append((time.monotonic(), frame))
                world = frame.get("world")
                if world:
                    self.epoch, self.tick = world["epoch"], world["tick"]
                    self.scores = {s["player"]: s["score"] for s in world["snakes"]}
                    self.players = {p["id"] for p in world["players"]}
                elif frame["type"] == "tick":
                    self.tick = frame["t"]
                    for player, score, _kills, _deaths in frame.get("scores", []):
                        self.scores[player] = score
                    self.players |= {p["id"] for p in frame.get("joined", [])}
                if frame["type"] in ("tick", "world"):
                    await self.ws.send(json.dumps({"type": "seen", "tick": self.tick}))

    async def until(self, check: Callable[[], bool], timeout: float = 15) -> None:
        await until(check, timeout)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


@pytest.mark.parametrize("how", ["killed", "drained"])
async def test_losing_the_owner_hands_the_arena_to_the_other_process(
    two_servers: tuple[Daphne, Daphne], make_user: Callable[..., Any], how: str
) -> None:
    """Killed (SIGKILL): the other process takes over when the lease lapses. Drained
    (SIGTERM, realtime/server/drain.py): the owner releases the lease as it starts draining, and
    the other process takes over at its next claim."""
    red = await database_sync_to_async(make_user)("red")
    yellow = await database_sync_to_async(make_user)("yellow")
    red_cookie = await database_sync_to_async(session_cookie)(red)
    yellow_cookie = await database_sync_to_async(session_cookie)(yellow)
    arena = await database_sync_to_async(services.arena_create)(user=red)
    path = f"/ws/game/arena/{arena.pk}/"
    first, second = two_servers
    r = Client(await ws_connect(first, path, cookie=red_cookie))
    y = Client(await ws_connect(second, path, cookie=yellow_cookie))
    clients = [r, y]
    try:
        await r.send({"type": "join"})
        await y.send({"type": "join"})
        await r.until(lambda: r.players == {red.pk, yellow.pk} and r.tick > 5)
        # Whichever process took the lease owns it; players are on both.
        info = (await arena_store.read_info([arena.pk])).get(arena.pk)
        while info is None or info["players"] < 2:
            await asyncio.sleep(0.1)
            info = (await arena_store.read_info([arena.pk])).get(arena.pk)
        pids = {server.process.pid: server for server in two_servers}
        owner = pids[int(info["owner"].rsplit(":", 1)[1])]
        survivor = second if owner is first else first
        on_survivor, on_owner = (y, r) if survivor is second else (r, y)
        await asyncio.sleep(1.5)  # play a while
        seen_tick, seen_scores, old_epoch = (
            on_survivor.tick,
            dict(on_survivor.scores),
            on_survivor.epoch,
        )

        if how == "killed":
            owner.process.kill()
        else:
            owner.process.send_signal(signal.SIGTERM)
        killed_at = time.monotonic()
        # The player whose process died comes back through the survivor (as the page does).
        cookie = red_cookie if on_owner is r else yellow_cookie
        moved = Client(await ws_connect(survivor, path, cookie=cookie))
        clients.append(moved)
        await on_survivor.until(lambda: on_survivor.epoch > old_epoch)
        world_at, world = next(
            (at, f["world"])
            for at, f in on_survivor.frames
            if f["type"] == "world" and f["world"]["epoch"] > old_epoch
        )
        first_tick_at = None
        await on_survivor.until(lambda: on_survivor.tick > world["tick"] + 10)
        for at, frame in on_survivor.frames:
            if frame["type"] == "tick" and frame["e"] == world["epoch"]:
                first_tick_at = at
                break
        assert first_tick_at is not None
        gap = first_tick_at - killed_at
        # Every tick a client saw was logged before it was sent: nothing is rolled back,
        # and the scores are the ones the players had.
        assert world["tick"] >= seen_tick
        for player, score in seen_scores.items():
            assert {s["player"]: s["score"] for s in world["snakes"]}[player] >= score
        assert {p["id"] for p in world["players"]} == {red.pk, yellow.pk}
        # Both players steer through the new owner.
        await moved.until(lambda: moved.tick > 0)
        for client in (on_survivor, moved):
            await client.send({"type": "turn", "dir": "up", "seq": 1000})
        await on_survivor.until(
            lambda: (
                sum(
                    1
                    for _, f in on_survivor.frames
                    if f["type"] == "tick" and any(a[1] == 1000 for a in f.get("acks", []))
                )
                >= 1
            )
        )

        # The new owner says so in its next report (once a second).
        await until_reported(
            arena.pk,
            lambda info: (
                info["owner"] == f"{info['owner'].rsplit(':', 1)[0]}:{survivor.process.pid}"
                if info["owner"]
                else False
            ),
        )
    finally:
        for client in clients:
            await client.close()
    if how == "drained":
        owner.process.wait(timeout=30)
        assert "handed over 1 arena(s)" in owner.log.read_text()
    report(
        f"[arena owner {how}] resumed_after_s={gap:.2f} world_after_s={world_at - killed_at:.2f} "
        f"ticks_not_run={round(gap / arena_world.tick_seconds())} "
        f"ticks_rolled_back={max(0, seen_tick - world['tick'])}"
    )


@pytest.mark.parametrize("how", ["killed", "drained"])
async def test_a_turn_sent_while_the_owner_is_lost_is_applied_or_refused(
    two_servers: tuple[Daphne, Daphne], make_user: Callable[..., Any], how: str
) -> None:
    """A player steers (each turn with a ref) from before the owner is lost until well
    after the new owner took over. Every turn is answered once: ``ack`` only for a turn
    a tick applied (the client had that tick, or a world after it, before the ack), and
    ``not_applied`` for the rest (no tick ever applied it)."""
    red = await database_sync_to_async(make_user)("red")
    yellow = await database_sync_to_async(make_user)("yellow")
    red_cookie = await database_sync_to_async(session_cookie)(red)
    yellow_cookie = await database_sync_to_async(session_cookie)(yellow)
    arena = await database_sync_to_async(services.arena_create)(user=red)
    path = f"/ws/game/arena/{arena.pk}/"
    first, second = two_servers
    r = Client(await ws_connect(first, path, cookie=red_cookie))
    y = Client(await ws_connect(second, path, cookie=yellow_cookie))
    try:
        await r.send({"type": "join"})
        await y.send({"type": "join"})
        await r.until(lambda: r.players == {red.pk, yellow.pk} and r.tick > 5)
        info = (await arena_store.read_info([arena.pk])).get(arena.pk)
        while info is None or info["players"] < 2:
            await asyncio.sleep(0.1)
            info = (await arena_store.read_info([arena.pk])).get(arena.pk)
        pids = {server.process.pid: server for server in two_servers}
        owner = pids[int(info["owner"].rsplit(":", 1)[1])]
        steerer, player = (y, yellow) if owner is first else (r, red)
        old_epoch = steerer.epoch

        async def steer(seq: int) -> None:
            direction = ("up", "left", "down", "right")[seq % 4]
            await steerer.send({"type": "turn", "dir": direction, "seq": seq, "ref": str(seq)})
            await asyncio.sleep(0.1)

        seq = 0
        for _ in range(5):  # before
            seq += 1
            await steer(seq)
        if how == "killed":
            owner.process.kill()
        else:
            owner.process.send_signal(signal.SIGTERM)
        while steerer.epoch == old_epoch:  # through the gap
            seq += 1
            await steer(seq)
            assert seq < 200, "no new owner"
        for _ in range(10):  # after
            seq += 1
            await steer(seq)

        def replies() -> dict[int, tuple[int, dict[str, Any]]]:
            return {
                int(f["ref"]): (i, f)
                for i, (_at, f) in enumerate(steerer.frames)
                if f["type"] in ("ack", "error") and f.get("ref", "").isdigit()
            }

        await steerer.until(lambda: len(replies()) == seq)
        await asyncio.sleep(1)  # any second answer to a turn would come by now
    finally:
        for client in (r, y):
            await client.close()
    answered = [f for _at, f in steerer.frames if f["type"] in ("ack", "error") and "ref" in f]
    assert len(answered) == seq  # one answer each
    frames = [f for _at, f in steerer.frames]
    acked, refused = [], []
    for number, (at, reply) in sorted(replies().items()):
        before = frames[:at]
        applied_in_tick = any(
            [player.pk, number] in f.get("acks", []) for f in before if f["type"] == "tick"
        )
        if reply["type"] == "ack":
            # Applied by a tick the client had, or by one a world it had came after.
            applied_in_world = any(
                any(p == player.pk and s >= number for p, s in f["world"]["acks"])
                for f in before
                if f.get("world")
            )
            assert applied_in_tick or applied_in_world, (number, reply)
            acked.append(number)
        else:
            assert reply["code"] == "not_applied", reply
            assert not any(
                [player.pk, number] in f.get("acks", []) for f in frames if f["type"] == "tick"
            ), (number, reply)
            refused.append(number)
    assert acked  # the new owner applies what it is sent
    report(
        f"[arena turns, owner {how}] turns={seq} acked={len(acked)} "
        f"not_applied={len(refused)} (refused: {refused})"
    )
