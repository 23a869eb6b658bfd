"""Game sockets: ``/ws/game/lobby/`` (open games and arenas, quick play),
``/ws/game/<id>/`` (a Connect Four game) and ``/ws/game/arena/<id>/`` (a snake arena)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from django.conf import settings

from common.database import write_to_async
from common.tasks import spawn
from game import presence as game_presence
from game import protocol, selectors, services
from game.arena import store as arena_store
from game.arena import world as arena_world
from game.arena.host import get_host
from game.models import Arena, Game
from realtime import presence
from realtime.close_codes import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_SERVER_ERROR
from realtime.consumers import LATER, JsonConsumer
from realtime.errors import ActionError, ErrorCode
from realtime.hub import get_hub
from realtime.live import LiveConsumer, SharedReads
from realtime.protocol import Closing, User
from realtime.ratelimit import TokenBucket

logger = logging.getLogger(__name__)


class LobbyConsumer(JsonConsumer):
    client_frames = protocol.LOBBY_CLIENT_FRAMES
    server_frames = protocol.LOBBY_SERVER_FRAMES

    async def connect(self) -> None:
        await self.join_group(protocol.LOBBY_GROUP)
        online = None
        if self.user.is_authenticated:  # visitors watch, uncounted
            change = await self.presence_enter(
                protocol.LOBBY_PRESENCE,
                user_id=self.user.pk,
                username=self.user.get_username(),
                announce=game_presence.lobby_announce,
            )
            online = change.online
        await self._send_sync(online)

    async def hub_resync(self, since: float) -> None:
        await self._send_sync()  # the lists may have changed while broadcasts were lost

    async def _send_sync(self, online: int | None = None) -> None:
        if online is None:
            online = await game_presence.lobby_count()
        waiting, playing = await database_sync_to_async(selectors.lobby_games)()
        arenas = await database_sync_to_async(
            lambda: services.arena_summaries(selectors.arenas_open())
        )()
        keys = [protocol.page_presence(game.pk) for game in playing]
        watching = await presence.online_counts(room_ids=keys) if keys else {}
        playing_with = [
            (game, protocol.spectator_count(game, watching[protocol.page_presence(game.pk)]))
            for game in playing
        ]
        me = self.user if self.user.is_authenticated else None
        await self.send_frame(
            protocol.LobbySync(
                waiting=[protocol.Summary.of(game) for game in waiting],
                playing=[protocol.Summary.of(game, count) for game, count in playing_with],
                arenas=arenas,
                online=online,
                me=User(id=me.pk, username=me.get_username()) if me is not None else None,
            )
        )

    async def _joined(self, game: Game) -> protocol.Joined:
        return await database_sync_to_async(protocol.Joined.of)(game)  # reads the players

    async def on_create(self, *, private: bool) -> protocol.Joined:
        game = await database_sync_to_async(services.game_create)(user=self.user, private=private)
        return await self._joined(game)

    async def on_join(self, *, id: int) -> protocol.Joined:
        game = await database_sync_to_async(services.game_join)(game_id=id, user=self.user)
        return await self._joined(game)

    async def on_cancel(self, *, id: int) -> None:
        await database_sync_to_async(services.game_cancel)(game_id=id, user=self.user)

    async def on_quick_play(self) -> protocol.Joined:
        game = await database_sync_to_async(services.game_quick_play)(user=self.user)
        return await self._joined(game)

    async def _arena_joined(self, arena: Arena) -> protocol.ArenaJoined:
        [summary] = await database_sync_to_async(services.arena_summaries)([arena])
        frame = protocol.ArenaJoined(arena=summary)
        if arena.private:
            frame.invite_url = arena.invite_url()
        return frame

    async def on_arena_create(self, *, private: bool) -> protocol.ArenaJoined:
        arena = await database_sync_to_async(services.arena_create)(user=self.user, private=private)
        return await self._arena_joined(arena)

    async def on_arena_quick_play(self) -> protocol.ArenaJoined:
        arena = await database_sync_to_async(services.arena_quick_play)(user=self.user)
        return await self._arena_joined(arena)


class GameConsumer(LiveConsumer):
    """The cursor is the game's version: every change is a whole new state."""

    client_frames = protocol.GAME_CLIENT_FRAMES
    server_frames = protocol.GAME_SERVER_FRAMES

    game_id: int = 0
    number: int | None = None  # 1 or 2 for a player's socket

    async def connect(self) -> None:
        self.game_id = int(self.scope["url_route"]["kwargs"]["game_id"])
        game = await database_sync_to_async(selectors.game_get)(game_id=self.game_id)
        if game is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.number = game.number_of(self.user)
        if game.private and self.number is None and self.query_param("code") != game.invite_code:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.join_groups(protocol.game_group(game.pk))
        user_id, name = game_presence.identity(self.user, self.socket_id)
        await self.presence_enter(
            protocol.page_presence(game.pk), user_id=user_id, username=name, announce=self._announce
        )
        await self.send_sync(None)

    async def _announce(self, change: presence.Change) -> None:
        # Whether this socket is a player's is read now: a spectator may have joined.
        await game_presence.page_announce(
            game_id=self.game_id, user=self.user, player=self.number is not None, change=change
        )

    async def sync_frame(self, after: int | None) -> tuple[protocol.GameSync, int]:
        """The whole game and its moves (the state is its own replay: no cursor read)."""

        def read() -> tuple[Game, list[int]]:
            game = selectors.game_get(game_id=self.game_id)
            if game is None:  # deleted by staff since
                raise ActionError(ErrorCode.NOT_FOUND, "This game no longer exists.")
            return game, selectors.game_moves(game=game)

        game, moves = await database_sync_to_async(read)()
        username = self.user.get_username() if self.user.is_authenticated else None
        frame = protocol.GameSync(
            you=protocol.You(number=self.number, username=username),
            game=protocol.GameData.of(game),
            moves=moves,
            spectators=protocol.spectator_count(game, await game_presence.page_count(game.pk)),
        )
        return frame, game.version

    async def _call(self, service: Any, **kwargs: Any) -> Any:
        return await database_sync_to_async(service)(game_id=self.game_id, user=self.user, **kwargs)

    async def on_move(self, *, column: int) -> None:
        await write_to_async(services.game_move)(
            game_id=self.game_id, user=self.user, column=column
        )

    async def on_join(self, *, code: str | None = None) -> None:
        self.require_user("Log in to play.")
        game = await self._call(services.game_join, code=code)
        was_spectator = self.number is None
        self.number = game.number_of(self.user)
        if was_spectator and self.number is not None:
            # This socket now counts as the player being here.
            await database_sync_to_async(services.game_player_presence)(
                game_id=self.game_id, user=self.user, online=True
            )

    async def on_cancel(self) -> None:
        await self._call(services.game_cancel)

    async def on_resign(self) -> None:
        await self._call(services.game_resign)

    async def on_offer_draw(self) -> None:
        await self._call(services.game_offer_draw)

    async def on_accept_draw(self) -> None:
        await self._call(services.game_answer_draw, accept=True)

    async def on_decline_draw(self) -> None:
        await self._call(services.game_answer_draw, accept=False)

    async def on_claim_win(self) -> None:
        await self._call(services.game_claim_win)

    async def on_rematch(self) -> None:
        await self._call(services.game_rematch)

    async def on_invite(self, *, username: str) -> protocol.Invited:
        invitee = await self._call(services.game_invite, username=username)
        return protocol.Invited(username=invitee.get_username())


_world_reads = SharedReads(share_for=0.25)


@dataclass(frozen=True)
class SentTurn:
    """A turn sent with a ref and not answered yet, and the world it was made for: the
    owner's epoch, the round and the newest tick its socket had."""

    ref: str | None
    epoch: int
    round: int
    tick: int

    def past(self, *, epoch: int, round: int, phase: str, tick: int) -> bool:
        """Whether no tick can apply it any more, once the socket has been sent the
        world at (``epoch``, ``round``, ``phase``, ``tick``): another owner (its turns go
        with it; the next refuses them), a later round, the round over, or the window
        (``ARENA_TURN_WINDOW_TICKS``) past."""
        if epoch != self.epoch:
            return epoch > self.epoch
        if round != self.round:
            return round > self.round
        return phase != arena_world.PLAY or tick >= self.tick + settings.ARENA_TURN_WINDOW_TICKS


def not_applied(why: str = "That turn did not count. Try again.") -> ActionError:
    return ActionError(ErrorCode.NOT_APPLIED, why)


class ArenaConsumer(JsonConsumer):
    """A snake arena's socket, ``/ws/game/arena/<id>/``: everyone watches; a logged-in
    user may join and steer their own snake. The world runs elsewhere (``game.arena``):
    this socket forwards the owner's ticks and sends its user's inputs to the owner."""

    client_frames = protocol.ARENA_CLIENT_FRAMES
    server_frames = protocol.ARENA_SERVER_FRAMES

    arena_id: int = 0
    epoch: int = 0  # the owner's epoch this socket follows
    round: int = 0  # the round of the world sent
    phase: str = arena_world.WAITING
    tick: int = 0  # the newest tick sent
    seen: int = 0  # the newest tick the client says it has read
    playing = False  # its user is one of the arena's players
    wants_to_play = False  # it asked to join (again, should the owner change)
    watching = False
    attached = False
    arena_info: protocol.ArenaInfo | None = None
    resyncing: asyncio.Task[None] | None = None
    behind = False  # closed for not reading (``seen``)
    waiting: list[dict[str, Any]]  # ticks that arrived during a resync
    turns: dict[str, SentTurn]  # by tag: turns sent with a ref, not answered yet
    checks: set[asyncio.Task[None]]  # turns being looked up (``_answer_past``)

    async def connect(self) -> None:
        self.turns, self.checks = {}, set()
        self.arena_id = int(self.scope["url_route"]["kwargs"]["arena_id"])
        arena = await database_sync_to_async(selectors.arena_get)(arena_id=self.arena_id)
        if arena is None or arena.status != Arena.State.OPEN:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        mine = arena.created_by_id is not None and arena.created_by_id == self.user.pk
        if arena.private and not mine and self.query_param("code") != arena.invite_code:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Steering is many small frames: its own limit, which fast play stays under.
        self.rate_limit = TokenBucket(
            rate=settings.ARENA_INPUT_RATE_PER_SECOND, burst=settings.ARENA_INPUT_BURST
        )
        self.arena_info = protocol.ArenaInfo(
            id=arena.pk, name=arena.name, private=arena.private, max=settings.ARENA_MAX_PLAYERS
        )
        # The arena's ticks come in batches from its owner's process (to the layer group
        # of every hub with an arena socket); the hub hands this socket its arena's.
        await self.join_group(protocol.ARENA_BATCH_GROUP)
        get_hub().attach(protocol.arena_group(arena.pk), self)
        self.attached = True
        joined_at = time.monotonic()
        self.waiting = []
        user_id, name = game_presence.identity(self.user, self.socket_id)
        await self.presence_enter(protocol.arena_presence(arena.pk), user_id=user_id, username=name)
        get_host().watch(arena.pk)
        self.watching = True
        await self.send_sync(since=joined_at)

    async def send_sync(self, *, since: float) -> None:
        """The whole world. The sockets of an arena that (re)sync at the same moment share
        one read, if it started after ``since`` (when this socket joined the group, or
        began to hold its ticks back): everything after it reaches the socket live."""
        stored = await _world_reads.get(
            self.arena_id, joined_at=since, read=lambda: arena_store.read_world(self.arena_id)
        )
        world = None
        if stored is not None:
            meta, state = stored
            self.epoch, self.tick, self.seen = meta.epoch, state.tick, state.tick
            self.round, self.phase = meta.round_number, meta.phase
            self.playing = self.user.pk in meta.names
            get_hub().prefer(protocol.arena_group(self.arena_id), self, self.playing)
            world = arena_world.world_payload(meta, state)
        you = protocol.Viewer(
            id=self.user.pk if self.user.is_authenticated else None,
            username=self.user.get_username() if self.user.is_authenticated else None,
        )
        if self.arena_info is None:  # never: connect sets it before the first sync
            return
        await self.send_frame(protocol.ArenaSync(arena=self.arena_info, you=you, world=world))
        if stored is not None:
            await self._settle({}, current=True)

    async def hub_resync(self, since: float) -> None:
        self._resync_soon()  # ticks were lost: the whole world again

    def _resync_soon(self) -> None:
        """Send the whole world, in a task of its own: the hub's delivery to the other
        sockets does not wait for this one's Redis read. Ticks that arrive meanwhile wait
        and follow the world (those it already holds are dropped)."""
        if self.resyncing is None or self.resyncing.done():
            self.waiting = []
            self.resyncing = spawn(self._resync(time.monotonic()), name="arena-socket-resync")

    async def _resync(self, since: float) -> None:
        try:
            await self.send_sync(since=since)
            # The ticks held meanwhile, in order; any arriving now still queue behind them.
            while self.waiting:
                if not await self._apply_tick(self.waiting.pop(0)):
                    return  # a gap again: another resync has started
        except Disconnected:
            # The client left meanwhile (its disconnect cleans up): not a server problem.
            logger.debug("arena resync of %s: the socket has closed", self.socket_id)
            return
        except Exception:
            logger.warning("arena resync of %s failed; closing it", self.socket_id, exc_info=True)
            await self.close(code=CLOSE_SERVER_ERROR)
            return
        self.resyncing = None

    async def disconnect(self, code: int) -> None:
        if self.attached:
            get_hub().detach(protocol.arena_group(self.arena_id), self)
        if self.resyncing is not None:
            self.resyncing.cancel()
        for task in getattr(self, "checks", ()):
            task.cancel()
        if self.watching:
            self.watching = False
            get_host().unwatch(self.arena_id)

    # ---- from the client

    async def on_join(self) -> None:
        self.require_user("Log in to play.")
        self.wants_to_play = True
        await self._ask_to_join()

    async def _ask_to_join(self) -> None:
        user = self.user
        await get_host().send(
            self.arena_id, {"kind": "join", "player": user.pk, "username": user.get_username()}
        )

    async def on_leave(self) -> None:
        self.wants_to_play = False
        if self.user.is_authenticated:
            await get_host().send(self.arena_id, {"kind": "leave", "player": self.user.pk})

    async def on_turn(self, *, dir: str, seq: int, snake: int | None = None) -> Any:
        if dir not in protocol.ARENA_DIRECTIONS:
            raise ActionError(ErrorCode.INVALID, "The direction must be up, down, left or right.")
        if snake is not None and snake != self.user.pk:
            raise ActionError(ErrorCode.FORBIDDEN, "That is not your snake.")
        if not self.playing:
            raise ActionError(ErrorCode.FORBIDDEN, "You are watching this arena. Join it to play.")
        if self.phase != arena_world.PLAY:
            raise not_applied("No round is being played right now.")
        # The world it was made for: the owner applies it in that one, soon, or never.
        turn = {
            "kind": "turn",
            "player": self.user.pk,
            "dir": dir,
            "seq": seq,
            "epoch": self.epoch,
            "round": self.round,
            "tick": self.tick,
        }
        ref = self.frame_ref
        if ref is None:  # fire-and-forget: the ticks' acks say which were applied
            await get_host().send(self.arena_id, turn)
            return None
        # With a ref it is answered once decided (``_settle``): ack only once applied.
        tag = arena_store.new_tag()
        self.turns[tag] = SentTurn(ref, self.epoch, self.round, self.tick)
        sent = await get_host().send(self.arena_id, {**turn, "tag": tag})
        # (Unless a new owner's world came meanwhile: then it is being answered already.)
        if not sent and self.turns.pop(tag, None) is not None:
            raise not_applied("The arena is moving to another server. Steer again.")
        return LATER

    async def on_seen(self, *, tick: int) -> None:
        self.seen = max(self.seen, min(tick, self.tick))

    # ---- from the arena's owner

    def _follow(self, event: dict[str, Any]) -> None:
        self.epoch, self.tick = event["epoch"], event["tick"]
        self.round = event.get("round", self.round)
        self.phase = event.get("phase", self.phase)
        playing = self.user.pk in event.get("players", ())
        if playing != self.playing:
            if self.playing:
                # Taken out (joined another arena, away, by staff): not joined again by
                # itself when the owner changes, or the seat would bounce between arenas.
                self.wants_to_play = False
            self.playing = playing
            # Players get each tick before spectators: they wait to see their turn.
            get_hub().prefer(protocol.arena_group(self.arena_id), self, playing)

    async def arena_tick(self, event: dict[str, Any]) -> None:
        if self.resyncing is not None and not self.resyncing.done():
            self.waiting.append(event)
            return
        await self._apply_tick(event)

    async def _apply_tick(self, event: dict[str, Any]) -> bool:
        """Forward a tick that follows the last one sent; False if ticks are missing (a
        resync is then under way, and this tick waits for it)."""
        epoch, tick = event["epoch"], event["tick"]
        if epoch < self.epoch or (epoch == self.epoch and tick <= self.tick):
            # From before this socket's sync, or from an owner since replaced: the world
            # it was sent since has this tick in it, and the turns the tick applied.
            await self._settle(event, current=False)
            return True
        if epoch > self.epoch or tick != self.tick + 1:
            self.resyncing = None
            self._resync_soon()  # ticks went missing: start from the whole world
            self.waiting.append(event)
            return False
        if self.behind:
            return True  # closing
        if tick - self.seen > settings.ARENA_MAX_UNREAD_TICKS:
            await self._close_behind()
            return True
        self._follow(event)
        await self.send(text_data=event["frame"])
        await self._settle(event)
        return True

    async def _close_behind(self) -> None:
        """Not reading (its ``seen`` lags, or it never sends one): told why, then closed
        with 4500, so that it reconnects and starts from the whole world, rather than have
        ticks buffered that it will never catch up with."""
        self.behind = True
        await self.send_frame(Closing(reason=protocol.ARENA_CLOSING_BEHIND))
        await self.close(code=CLOSE_SERVER_ERROR)

    async def arena_world(self, event: dict[str, Any]) -> None:
        if event["epoch"] < self.epoch:
            return
        if self.resyncing is not None and not self.resyncing.done():
            # The whole world, newer than what a resync would send: it replaces it.
            self.resyncing.cancel()
            self.resyncing = None
            self.waiting = []
        self._follow(event)
        self.seen = self.tick
        await self.send(text_data=event["frame"])
        await self._settle(event)
        if self.wants_to_play and not self.playing:
            # Asked while no process ran the arena (or its owner was being replaced).
            await self._ask_to_join()

    async def arena_over(self, event: dict[str, Any]) -> None:
        if event["epoch"] >= self.epoch:
            self.phase = event.get("phase", arena_world.RESULTS)
            await self.send(text_data=event["frame"])
            await self._settle(event)

    # ---- answering turns sent with a ref

    async def _settle(self, event: dict[str, Any], *, current: bool = True) -> None:
        """Answer the turns ``event`` decides, once the client has what it says: those
        its tick applied (``ack``), and those the owner refused (``not_applied``). If
        it is ``current`` (this socket now follows the world it ends at), also the turns
        no tick can apply any more: the record of applied turns decides those."""
        if not self.turns:
            return
        for tag in event.get("applied", ()):
            if (turn := self.turns.pop(tag, None)) is not None:
                await self.answer(turn.ref)
        for tag in event.get("dropped", ()):
            if (turn := self.turns.pop(tag, None)) is not None:
                await self.answer(turn.ref, not_applied())
        if not current:
            return
        past = {
            tag: turn
            for tag, turn in self.turns.items()
            if turn.past(epoch=self.epoch, round=self.round, phase=self.phase, tick=self.tick)
        }
        if past:
            for tag in past:
                del self.turns[tag]
            task = spawn(self._answer_past(past), name="arena-socket-turns")
            self.checks.add(task)
            task.add_done_callback(self.checks.discard)

    async def _answer_past(self, turns: dict[str, SentTurn]) -> None:
        """Turns that no tick can apply any more, whose outcome this socket was not told
        (lost with an owner that stopped, or in ticks it skipped in a resync): applied
        if a tick recorded them (``game.arena.store.TICK_SCRIPT``), else not, and never now."""
        try:
            applied = await arena_store.applied_turns(self.arena_id, list(turns))
            for tag, turn in turns.items():
                await self.answer(turn.ref, None if tag in applied else not_applied())
        except Disconnected:
            return
        except Exception:
            # Unanswered, the client would wait for ever: it reconnects instead (the
            # world's acks then say what was applied).
            logger.warning(
                "arena turns of %s not answered; closing it", self.socket_id, exc_info=True
            )
            await self.close(code=CLOSE_SERVER_ERROR)

    async def arena_closed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["frame"])
        await self.close(code=CLOSE_NOT_FOUND)
