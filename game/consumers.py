"""Game sockets: ``/ws/game/lobby/`` (open games, quick play) and ``/ws/game/<id>/``."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from game import presence as game_presence
from game import protocol, selectors, services
from game.models import Game
from rtsite import presence
from rtsite.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, JsonConsumer
from rtsite.errors import ActionError, ErrorCode
from rtsite.live import LiveConsumer


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

    async def hub_resync(self) -> None:
        await self._send_sync()  # the lists may have changed while broadcasts were lost

    async def _send_sync(self, online: int | None = None) -> None:
        if online is None:
            online = await game_presence.lobby_count()
        waiting, playing = await database_sync_to_async(selectors.lobby_games)()
        keys = [protocol.page_presence(game.pk) for game in playing]
        watching = await presence.online_counts(room_ids=keys) if keys else {}
        playing_with = [
            (game, protocol.spectator_count(game, watching[protocol.page_presence(game.pk)]))
            for game in playing
        ]
        me = self.user if self.user.is_authenticated else None
        await self.send_frame(
            protocol.lobby_sync_frame(waiting=waiting, playing=playing_with, online=online, me=me)
        )

    async def _joined(self, game: Game) -> dict[str, Any]:
        return await database_sync_to_async(protocol.joined_frame)(game)  # reads the players

    async def on_create(self, *, private: bool = False) -> dict[str, Any]:
        game = await database_sync_to_async(services.game_create)(user=self.user, private=private)
        return await self._joined(game)

    async def on_join(self, *, id: int) -> dict[str, Any]:
        game = await database_sync_to_async(services.game_join)(game_id=id, user=self.user)
        return await self._joined(game)

    async def on_cancel(self, *, id: int) -> None:
        await database_sync_to_async(services.game_cancel)(game_id=id, user=self.user)

    async def on_quick_play(self) -> dict[str, Any]:
        game = await database_sync_to_async(services.game_quick_play)(user=self.user)
        return await self._joined(game)

    game_lobby = JsonConsumer.forward_frame
    game_lobby_removed = JsonConsumer.forward_frame
    game_online = JsonConsumer.forward_frame
    game_spectators = JsonConsumer.forward_frame


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

    async def sync_frame(self, after: int | None) -> tuple[dict[str, Any], list[int]]:
        """The whole game and its moves (the state is its own replay: no cursor read)."""

        def read() -> tuple[Game, list[int]]:
            game = selectors.game_get(game_id=self.game_id)
            if game is None:  # deleted by staff since
                raise ActionError(ErrorCode.NOT_FOUND, "this game no longer exists")
            return game, selectors.game_moves(game=game)

        game, moves = await database_sync_to_async(read)()
        username = self.user.get_username() if self.user.is_authenticated else None
        frame = protocol.game_sync_frame(
            game=game,
            moves=moves,
            number=self.number,
            username=username,
            on_page=await game_presence.page_count(game.pk),
        )
        return frame, [game.version]

    async def _call(self, service: Any, **kwargs: Any) -> Any:
        return await database_sync_to_async(service)(game_id=self.game_id, user=self.user, **kwargs)

    async def on_move(self, *, column: int) -> None:
        await self._call(services.game_move, column=column)

    async def on_join(self, *, code: str | None = None) -> None:
        self.require_user("log in to play")
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

    async def on_invite(self, *, username: str) -> dict[str, Any]:
        invitee = await self._call(services.game_invite, username=username)
        return protocol.invited_frame(invitee.get_username())

    game_state = LiveConsumer.forward_stored
    game_spectators = JsonConsumer.forward_frame
