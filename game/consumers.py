"""Game sockets: ``/ws/game/lobby/`` (open games, quick play) and ``/ws/game/<id>/``."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from game import presence as game_presence
from game import protocol, selectors, services
from game.models import Game
from rtsite import presence
from rtsite.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, JsonConsumer


class LobbyConsumer(JsonConsumer):
    client_frames = protocol.LOBBY_CLIENT_FRAMES

    async def connect(self) -> None:
        await self.join_group(protocol.LOBBY_GROUP)
        online = await game_presence.lobby_enter(user=self.user, socket_id=self.socket_id)
        await self._send_sync(online)

    async def hub_resync(self) -> None:
        await self._send_sync()  # the lists may have changed while broadcasts were lost

    async def _send_sync(self, online: int | None = None) -> None:
        if online is None:
            online = (await presence.online_counts(room_ids=[protocol.LOBBY_PRESENCE]))[
                protocol.LOBBY_PRESENCE
            ]
        waiting, playing = await database_sync_to_async(selectors.lobby_games)()
        keys = [protocol.page_presence(game.pk) for game in playing]
        watching = await presence.online_counts(room_ids=keys) if keys else {}
        await self.send_frame(
            {
                "type": "sync",
                "waiting": [protocol.summary(game) for game in waiting],
                "playing": [
                    protocol.summary(
                        game,
                        protocol.spectator_count(game, watching[protocol.page_presence(game.pk)]),
                    )
                    for game in playing
                ],
                "online": online,
                "me": {"id": self.user.pk, "username": self.user.get_username()}
                if self.user.is_authenticated
                else None,
            }
        )

    async def disconnect(self, code: int) -> None:
        if getattr(self, "socket_id", None):
            await game_presence.lobby_leave(user=self.user, socket_id=self.socket_id)

    async def _joined(self, game: Game) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            frame: dict[str, Any] = {"type": "joined", "game": protocol.summary(game)}
            if game.private:
                frame["invite_url"] = f"{game.get_absolute_url()}?code={game.invite_code}"
            return frame

        return await database_sync_to_async(build)()  # may read the players

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


class GameConsumer(JsonConsumer):
    client_frames = protocol.GAME_CLIENT_FRAMES

    game_id: int = 0
    number: int | None = None  # 1 or 2 for a player's socket
    entered = False
    version = 0  # the newest state this socket has been sent

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
        await self.join_group(protocol.game_group(game.pk))
        await self._enter()
        await self._send_sync()

    async def _enter(self) -> None:
        self.entered = True  # from here on, leaving must uncount this socket
        await game_presence.game_page_enter(
            game_id=self.game_id,
            user=self.user,
            socket_id=self.socket_id,
            player=self.number is not None,
        )

    async def _send_sync(self) -> None:
        def read() -> tuple[Game | None, list[int]]:
            game = selectors.game_get(game_id=self.game_id)
            return game, selectors.game_moves(game=game) if game else []

        game, moves = await database_sync_to_async(read)()
        if game is None:
            return
        on_page = (await presence.online_counts(room_ids=[protocol.page_presence(game.pk)]))[
            protocol.page_presence(game.pk)
        ]
        self.version = max(self.version, game.version)
        await self.send_frame(
            {
                "type": "sync",
                "you": {
                    "number": self.number,
                    "username": self.user.get_username() if self.user.is_authenticated else None,
                },
                "game": protocol.game_payload(game),
                "moves": moves,
                "spectators": protocol.spectator_count(game, on_page),
            }
        )

    async def disconnect(self, code: int) -> None:
        if self.entered:
            await game_presence.game_page_leave(
                game_id=self.game_id,
                user=self.user,
                socket_id=self.socket_id,
                player=self.number is not None,
            )

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
        return {"type": "invited", "username": invitee.get_username()}

    async def game_state(self, event: dict[str, Any]) -> None:
        self.version = max(self.version, event["cursor"])
        await self.send(text_data=event["frame"])

    async def hub_resync(self) -> None:
        await self._send_sync()

    game_spectators = JsonConsumer.forward_frame
