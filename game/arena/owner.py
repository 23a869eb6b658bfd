"""One arena, run by this process while it holds the lease."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from common.redis import get_async_redis
from common.tasks import spawn
from game import protocol, snake
from game.arena import services
from game.arena.store import (
    PROCESS,
    RELEASE_SCRIPT,
    info_key,
    input_group,
    is_tag,
    key,
    read_world,
    seat_key,
)
from game.arena.world import (
    PLAY,
    RESULTS,
    WAITING,
    Meta,
    Turn,
    results_of,
    tally,
    tick_frame,
    world_payload,
)
from realtime import presence
from realtime.broadcast import make_event, publish_now
from realtime.envelope import event_of
from realtime.hub import get_hub
from realtime.protocol import ServerFrame

logger = logging.getLogger(__name__)

# How often the owner counts who is on the page (players away, spectators).
PRESENCE_EVERY_SECONDS = 1.0


class Host(Protocol):
    """What an owner asks of its process's ``ArenaHost`` (``game.arena.host``)."""

    lag_max: float

    async def publish(self, events: list[dict[str, Any]]) -> None: ...

    def seat_taken(self, player: int, arena_id: int) -> None: ...


class ArenaOwner:
    """One arena, run by this process while it holds the lease. The process's ticker
    (``ArenaHost``) steps every arena it owns at once; what an owner does between ticks
    (counting who is on the page, starting a round, storing results) runs in tasks of
    its own, off the tick."""

    def __init__(
        self, *, host: Host, arena_id: int, name: str, url: str, private: bool, lease: str
    ) -> None:
        self.host = host
        self.arena_id = arena_id
        self.name = name
        self.url = url
        self.private = private
        self.lease = lease
        self.group = protocol.arena_group(arena_id)
        self.meta = Meta()
        self.state = snake.State(config=snake.Config())
        self.queues: dict[int, deque[Turn]] = {}
        self.applied: list[str] = []  # tags of the turns the coming tick applies
        self.dropped: list[str] = []  # tags of turns refused, for the next event
        self.joins: list[int] = []
        self.leaves: dict[int, str] = {}  # player -> username (gone from meta.names)
        # The players a round starts with: its first tick says they joined it.
        self.entering: list[int] = []
        self.refused: list[int] = []
        self.snapshot_due = True
        self.last_snapshot = 0.0
        self.spectators = 0
        self.listed: protocol.ArenaSummary | None = None
        self.outbox: list[dict[str, Any]] = []  # events for the next flush
        self.busy: asyncio.Task[None] | None = None  # a round starting, or closing
        self.tasks: list[asyncio.Task[None]] = []
        self.stopped = asyncio.Event()
        self.closing = False  # staff closed it: at the next tick

    # ---- start and stop

    async def take_over(self) -> None:
        """Start from the stored world (or a new one), as a new epoch, and say so."""
        stored = await read_world(self.arena_id)
        if stored is not None:
            self.meta, self.state = stored
        self.meta.epoch += 1
        await self.leave_other_seats()
        if self.meta.phase == RESULTS and not self.meta.stored:
            self.store_results()  # the last owner died before the results were stored
        self.snapshot_due = True
        self.queue(self.world_frame())
        get_hub().attach(input_group(self.arena_id), self)
        self.tasks.append(spawn(self.watch(), name=f"arena-{self.arena_id}-watch"))

    async def leave_other_seats(self) -> None:
        """Players who joined another arena since the stored world (the leave this arena
        was sent died with its last owner) are taken out: one seat each."""
        players = sorted(self.meta.names)
        if not players:
            return
        seats = await get_async_redis().mget([seat_key(player) for player in players])
        for player, seat in zip(players, seats, strict=True):
            if seat is not None and int(seat) != self.arena_id:
                self._leave(player)

    async def stop(self, *, release: bool = True) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        get_hub().detach(input_group(self.arena_id), self)
        for task in [*self.tasks, self.busy]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if release:
            with contextlib.suppress(Exception):
                await get_async_redis().eval(
                    RELEASE_SCRIPT, 1, key(self.arena_id, "owner"), self.lease
                )

    # ---- inputs (from the hub: this process's channel, or straight from a local socket)

    async def hub_deliver(self, event: dict[str, Any]) -> None:
        if event.get("type") == protocol.EVENT_ARENA_INPUT:
            self.on_input(event)

    def on_input(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        player = event.get("player")
        if not isinstance(player, int):
            return
        if kind == "turn":
            self._turn(player, event)
        elif kind == "join":
            self._join(player, str(event.get("username", "?")))
        elif kind in ("leave", "remove"):
            self._leave(player)
        elif kind == "close":
            self.closing = True
        elif kind == "end_round" and self.meta.phase == PLAY:
            self.meta.phase_ends = 0.0  # ends at the next tick
            self.meta.by_staff = True

    def _turn(self, player: int, event: dict[str, Any]) -> None:
        direction, seq, tag = event.get("dir"), event.get("seq"), event.get("tag")
        tag = tag if is_tag(tag) else None
        queue = self.queues.setdefault(player, deque())
        # At most two per tick (a quick double turn); more is noise and is dropped.
        if (
            player not in self.meta.names
            or direction not in snake.STEPS
            or not isinstance(direction, str)  # (STEPS's keys are; this tells the checker)
            or not isinstance(seq, int)
            or not self._for_now(event)
            or len(queue) >= 2
        ):
            if tag is not None:
                self.dropped.append(tag)  # its socket answers not_applied
            return
        queue.append(Turn(direction, seq, tag, event.get("tick")))

    def _for_now(self, event: dict[str, Any]) -> bool:
        """Whether a turn is for the world as it is: made on this owner's ticks of this
        round, within the window of the coming tick."""
        if "epoch" not in event:
            return True  # from a process of a version before turns named their world
        tick = event.get("tick")
        return (
            self.meta.phase == PLAY
            and event["epoch"] == self.meta.epoch
            and event.get("round") == self.meta.round_number
            and isinstance(tick, int)
            and self._in_window(tick)
        )

    def _in_window(self, tick: int | None) -> bool:
        """Whether the coming tick may still apply a turn made at ``tick``."""
        return tick is None or 0 < self.state.tick + 1 - tick <= settings.ARENA_TURN_WINDOW_TICKS

    def _drop(self, turn: Turn) -> None:
        if turn.tag is not None:
            self.dropped.append(turn.tag)  # its socket answers not_applied

    def _join(self, player: int, username: str) -> None:
        if player in self.meta.names:
            self.meta.away_since.pop(player, None)
            return
        if len(self.meta.names) >= settings.ARENA_MAX_PLAYERS:
            self.refused.append(player)
            return
        self.meta.names[player] = username
        self.joins.append(player)
        self.snapshot_due = True
        self.host.seat_taken(player, self.arena_id)

    def _leave(self, player: int) -> None:
        if player not in self.meta.names:
            return
        gone = self.state.snake(player)
        if self.meta.phase == PLAY and gone is not None:
            # The rules take the snake out at the next tick: its tally stays for the
            # results (added to what the player had if they left before).
            row = tally(gone, self.meta.names[player])
            before = self.meta.departed.get(player)
            if before is not None:
                for name in ("score", "kills", "deaths"):
                    row[name] += before[name]
            self.meta.departed[player] = row
        username = self.meta.names.pop(player)
        self.meta.acks.pop(player, None)
        self.meta.away_since.pop(player, None)
        for turn in self.queues.pop(player, ()):
            self._drop(turn)
        if player in self.joins:
            self.joins.remove(player)
        self.leaves[player] = username
        self.snapshot_due = True

    # ---- a tick (synchronous: the ticker runs every owned arena's in turn)

    def step(self, now: float) -> tuple[str, str, str]:
        """Advance the arena one tick; queue what to broadcast. Returns the tick's log
        entry, when one is due the snapshot ("" for none), and the tags of the turns it
        applied (space-separated, "" for none)."""
        if self.closing:
            self.closing = False
            self._start(self.close("closed by staff"))
            return "", "", ""
        entry = ""
        phase = self.meta.phase
        if phase == PLAY:
            entry = self.play_tick(now)
        else:
            changed = bool(self.joins or self.leaves)
            self.joins.clear()
            self.leaves.clear()
            starting = self.busy is not None and not self.busy.done()
            if phase == WAITING and self.meta.names and not starting:
                self._start(self.start_round())  # its world and first tick name the players
            elif phase == RESULTS and now >= self.meta.phase_ends and not starting:
                if self.meta.names:
                    self._start(self.start_round())
                else:
                    self.meta.phase = WAITING
                    self.meta.phase_ends = 0.0
                    self.meta.results = None
                    self.snapshot_due = True
                    self.queue(self.world_frame())
            elif changed and not starting:
                # No ticks between rounds: who plays next is said at once, in a world.
                self.queue(self.world_frame())
        applied, self.applied = self.applied, []
        return entry, self.snapshot(now), " ".join(applied)

    def play_tick(self, now: float) -> str:
        turns: dict[int, str] = {}
        acks: list[list[int]] = []
        for player, queue in self.queues.items():
            while queue:
                turn = queue.popleft()
                if not self._in_window(turn.tick):
                    self._drop(turn)  # waited too long behind another
                    continue
                turns[player] = turn.direction
                acks.append([player, turn.seq])
                self.meta.acks[player] = turn.seq
                if turn.tag is not None:
                    self.applied.append(turn.tag)
                break
        joins, self.joins = self.joins, []
        leaves, self.leaves = self.leaves, {}
        # The round's first tick: everyone it started with joined it then.
        entering, self.entering = self.entering, []
        joined = sorted({*joins, *(p for p in entering if p in self.meta.names)})
        refused, self.refused = self.refused, []
        before = self.state
        inputs = snake.TickInputs(turns=turns, joins=tuple(joins), leaves=tuple(leaves))
        self.state, events = snake.play(self.state, inputs)
        frame = tick_frame(
            meta=self.meta,
            state=self.state,
            before=before,
            events=events,
            acks=acks,
            joined=joined,
            # (Not one who joined and left between two ticks: never in the round.)
            left={p: name for p, name in leaves.items() if before.snake(p) is not None},
            refused=refused,
        )
        self.queue(frame, applied=self.applied)
        # Joins and leaves are not in the log: a snapshot follows them (snapshot_due).
        entry = json.dumps([self.state.tick, {str(p): d for p, d in turns.items()}, acks])
        if not self.meta.names or now >= self.meta.phase_ends:
            self.end_round()
        return entry

    def snapshot(self, now: float) -> str:
        every = settings.ARENA_SNAPSHOT_SECONDS
        if not self.snapshot_due and now - self.last_snapshot < every:
            return ""
        self.snapshot_due = False
        # Arenas taken at the same moment would store their snapshots in the same tick
        # every second; each keeps a phase of its own.
        self.last_snapshot = now - (self.arena_id * 0.618 % 1) * every * 0.5
        return json.dumps({"meta": self.meta.to_dict(), "state": snake.state_to_dict(self.state)})

    def take_outbox(self) -> list[dict[str, Any]]:
        events, self.outbox = self.outbox, []
        return events

    def queue(self, frame: ServerFrame, *, applied: list[str] | None = None) -> None:
        # The sockets keep their place (epoch, round, phase, tick) and whether their user
        # plays, and answer the turns they sent with a tag: applied by this tick, or
        # refused since the last event.
        extra: dict[str, Any] = {
            "tick": self.state.tick,
            "epoch": self.meta.epoch,
            "round": self.meta.round_number,
            "phase": self.meta.phase,
            "players": sorted(self.meta.names),
        }
        if applied:
            extra["applied"] = list(applied)
        if self.dropped:
            extra["dropped"], self.dropped = self.dropped, []
        self.outbox.append(make_event(self.group, event_of(frame), frame, extra=extra))

    def world_frame(self) -> protocol.WorldFrame:
        return protocol.WorldFrame(world=world_payload(self.meta, self.state))

    def _start(self, work: Any) -> None:
        self.busy = spawn(work, name=f"arena-{self.arena_id}-busy")

    # ---- rounds

    async def start_round(self) -> None:
        seed = secrets.randbits(63)
        number = self.meta.round_number + 1
        round_id = await database_sync_to_async(services.arena_round_start)(
            arena_id=self.arena_id, number=number, seed=seed
        )
        if self.stopped.is_set():
            return
        self.state = snake.new_state(seed=seed, players=sorted(self.meta.names))
        self.joins.clear()
        self.leaves.clear()
        self.entering = sorted(self.meta.names)
        for queue in self.queues.values():
            for turn in queue:
                self._drop(turn)
        self.queues.clear()
        self.meta.acks.clear()
        self.meta.departed.clear()
        self.meta.round_id = round_id
        self.meta.round_number = number
        self.meta.phase = PLAY
        self.meta.phase_ends = time.time() + settings.ARENA_ROUND_SECONDS
        self.meta.results = None
        self.meta.by_staff = False
        self.snapshot_due = True
        self.queue(self.world_frame())

    def end_round(self) -> None:
        self.meta.phase = RESULTS
        self.meta.phase_ends = time.time() + settings.ARENA_RESULTS_SECONDS
        self.meta.results = results_of(self.meta, self.state)
        self.meta.stored = False
        self.snapshot_due = True
        self.store_results()
        frame = protocol.RoundOver(
            round=self.meta.round_number,
            results=[protocol.ArenaResult(**row) for row in self.meta.results],
            next_in=settings.ARENA_RESULTS_SECONDS,
        )
        self.queue(frame)

    def store_results(self) -> None:
        meta, ticks = self.meta, self.state.tick

        async def store() -> None:
            try:
                await database_sync_to_async(services.arena_round_finish)(
                    round_id=meta.round_id,
                    ticks=ticks,
                    results=list(meta.results or []),
                    by_staff=meta.by_staff,
                )
                meta.stored = True
            except Exception:
                logger.exception("arena %s: storing round %s failed", self.arena_id, meta.round_id)

        self.tasks.append(spawn(store(), name=f"arena-{self.arena_id}-store"))

    async def close(self, reason: str) -> None:
        await database_sync_to_async(services.arena_close)(arena_id=self.arena_id)
        self.queue(protocol.Closed(reason=reason))
        await self.host.publish(self.take_outbox())
        with contextlib.suppress(Exception):
            await get_async_redis().hdel(info_key(), str(self.arena_id))
        await self.stop()

    # ---- once a second, off the tick

    async def watch(self) -> None:
        """Who is on the page (players away too long are taken out; an arena nobody
        plays or watches closes after a while), and what the admin and the lobby show."""
        # Each arena on its own phase of the second (not all at once, as they were taken).
        await asyncio.sleep(self.arena_id * 0.618 % 1 * PRESENCE_EVERY_SECONDS)
        while not self.stopped.is_set():
            try:
                if not await self.check_presence(time.time()):
                    return
                await self.report(time.time())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("arena %s: presence or report failed", self.arena_id, exc_info=True)
            await asyncio.sleep(PRESENCE_EVERY_SECONDS)

    async def check_presence(self, now: float) -> bool:
        users, count = await presence.online_users(
            room_id=protocol.arena_presence(self.arena_id), limit=1000
        )
        here = {u["id"] for u in users}
        for player in list(self.meta.names):
            if player in here:
                self.meta.away_since.pop(player, None)
            elif now - self.meta.away_since.setdefault(player, now) >= settings.ARENA_AWAY_SECONDS:
                self._leave(player)
        self.spectators = max(0, count - len(here & set(self.meta.names)))
        if self.meta.names or count:
            self.meta.empty_since = 0.0
        elif not self.meta.empty_since:
            self.meta.empty_since = now
        elif now - self.meta.empty_since >= settings.ARENA_EMPTY_CLOSE_SECONDS:
            self._start(self.close("closed after standing empty"))
            return False
        return True

    async def report(self, now: float) -> None:
        info = {
            "players": len(self.meta.names),
            "spectators": self.spectators,
            "phase": self.meta.phase,
            "round": self.meta.round_number,
            "tick": self.state.tick,
            "owner": PROCESS,
            "lag_ms": round(self.host.lag_max * 1000, 1),
            "at": now,
        }
        await get_async_redis().hset(info_key(), str(self.arena_id), json.dumps(info))
        summary = protocol.arena_summary(
            arena_id=self.arena_id,
            name=self.name,
            url=self.url,
            players=len(self.meta.names),
            spectators=self.spectators,
            phase=self.meta.phase,
        )
        if summary != self.listed and not self.private:
            self.listed = summary
            await publish_now(protocol.LOBBY_GROUP, protocol.ArenaListed(arena=summary))
