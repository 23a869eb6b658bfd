"""Who is on the game's pages: players back or gone, spectators and the lobby's players.

Presence lives in Redis and is asynchronous; the consumers count their sockets in and
out (``JsonConsumer.presence_enter``) and these announce the changes, on the event loop.
What they change in a game (a player's connection state) goes through the referee in
``game.services``, which is synchronous database code.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from game import protocol, selectors, services
from realtime import presence
from realtime.broadcast import publish_now
from realtime.presence import Change


def identity(user: Any, socket_id: str) -> tuple[int, str]:
    """How a socket counts on a game page: visitors one per socket (a watcher is a
    watcher, logged in or not)."""
    if user.is_authenticated:
        return user.pk, user.get_username()
    return 0, f"visitor-{socket_id[:12]}"


async def page_announce(*, game_id: int, user: Any, player: bool, change: Change) -> None:
    """A socket opened or closed the game page: a player is back (their first socket) or
    gone (their last), or the spectators are counted again."""
    if not player:
        await _spectators_announce(game_id, change.online)
    elif change.first or change.last:
        await database_sync_to_async(services.game_player_presence)(
            game_id=game_id, user=user, online=change.first
        )


async def _spectators_announce(game_id: int, on_page: int) -> None:
    game = await database_sync_to_async(selectors.game_get)(game_id=game_id)
    if game is None:
        return
    frame = protocol.Spectators(id=game_id, count=protocol.spectator_count(game, on_page))
    await publish_now(protocol.game_group(game.pk), frame)
    if not game.private:
        await publish_now(protocol.LOBBY_GROUP, frame)


async def lobby_announce(change: Change) -> None:
    """A logged-in user is new in the lobby, or has left it: its count of players."""
    if change.first or change.last:
        await publish_now(protocol.LOBBY_GROUP, protocol.Online(count=change.online))


async def lobby_count() -> int:
    return (await presence.online_counts(room_ids=[protocol.LOBBY_PRESENCE]))[
        protocol.LOBBY_PRESENCE
    ]


async def page_count(game_id: int) -> int:
    key = protocol.page_presence(game_id)
    return (await presence.online_counts(room_ids=[key]))[key]
