"""Who is on the game's pages: players back or gone, spectators and the lobby's players.

Presence lives in Redis and is asynchronous; these run on the event loop, called by the
consumers. What they change in a game (a player's connection state) goes through the
referee in ``game.services``, which is synchronous database code.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from game import protocol, selectors, services
from rtsite import presence
from rtsite.realtime import publish_now


def _identity(user: Any, socket_id: str) -> tuple[int, str]:
    # Visitors count one per socket: a watcher is a watcher, logged in or not.
    if user.is_authenticated:
        return user.pk, user.get_username()
    return 0, f"visitor-{socket_id[:12]}"


async def game_page_enter(*, game_id: int, user: Any, socket_id: str, player: bool) -> None:
    """A socket opened the game page: a player is back (their first socket), or one more
    spectator is counted."""
    user_id, name = _identity(user, socket_id)
    change = await presence.enter(
        room_id=protocol.page_presence(game_id), user_id=user_id, username=name, socket_id=socket_id
    )
    if not player:
        await _spectators_announce(game_id, change.online)
    elif change.first:
        await database_sync_to_async(services.game_player_presence)(
            game_id=game_id, user=user, online=True
        )


async def game_page_leave(*, game_id: int, user: Any, socket_id: str, player: bool) -> None:
    user_id, name = _identity(user, socket_id)
    change = await presence.leave(
        room_id=protocol.page_presence(game_id), user_id=user_id, username=name, socket_id=socket_id
    )
    if not player:
        await _spectators_announce(game_id, change.online)
    elif change.last:
        await database_sync_to_async(services.game_player_presence)(
            game_id=game_id, user=user, online=False
        )


async def _spectators_announce(game_id: int, on_page: int) -> None:
    game = await database_sync_to_async(selectors.game_get)(game_id=game_id)
    if game is None:
        return
    frame = protocol.spectators_frame(game_id, protocol.spectator_count(game, on_page))
    await publish_now(protocol.game_group(game.pk), protocol.EVENT_SPECTATORS, frame)
    if not game.private:
        await publish_now(protocol.LOBBY_GROUP, protocol.EVENT_SPECTATORS, frame)


async def lobby_enter(*, user: Any, socket_id: str) -> int | None:
    """Count a logged-in user into the lobby (telling it when they are new there); the
    number of players in the lobby, or None for a visitor (who is not counted)."""
    if not user.is_authenticated:
        return None
    change = await presence.enter(
        room_id=protocol.LOBBY_PRESENCE,
        user_id=user.pk,
        username=user.get_username(),
        socket_id=socket_id,
    )
    if change.first:
        frame = protocol.online_frame(change.online)
        await publish_now(protocol.LOBBY_GROUP, protocol.EVENT_ONLINE, frame)
    return change.online


async def lobby_leave(*, user: Any, socket_id: str) -> None:
    if not user.is_authenticated:
        return
    change = await presence.leave(
        room_id=protocol.LOBBY_PRESENCE,
        user_id=user.pk,
        username=user.get_username(),
        socket_id=socket_id,
    )
    if change.last:
        frame = protocol.online_frame(change.online)
        await publish_now(protocol.LOBBY_GROUP, protocol.EVENT_ONLINE, frame)
