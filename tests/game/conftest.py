"""Fixtures for game tests: two players and a game between them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from game import services
from game.models import Game


@pytest.fixture
def players(make_user: Callable[..., Any]) -> tuple[Any, Any]:
    return make_user("red"), make_user("yellow")


@pytest.fixture
def active_game(players: tuple[Any, Any]) -> Game:
    game = services.game_create(user=players[0])
    return services.game_join(game_id=game.pk, user=players[1])


def play(game: Game, players: tuple[Any, Any], columns: list[int]) -> Game:
    """Alternate moves starting with whoever's turn it is."""
    for column in columns:
        game.refresh_from_db()
        game = services.game_move(game_id=game.pk, user=players[game.turn - 1], column=column)
    return game


@pytest.fixture
def arena_settings(settings: Any) -> Any:
    """Arena keys of their own for each test (ids restart with the test database), and
    short waits so a test sees claims and closes quickly."""
    from common.redis import get_redis
    from game.arena.store import info_key

    client = get_redis(timeout=5)
    for key in [*client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:arena:*"), info_key()]:
        client.delete(key)
    settings.ARENA_CLAIM_SECONDS = 0.1
    settings.ARENA_MAX_UNREAD_TICKS = 10_000  # test sockets do not report what they read
    return settings


async def until_reported(arena_id: int, check: Callable[[dict[str, Any]], bool]) -> None:
    """Until the arena's owner has reported (once a second) what ``check`` wants."""
    from game.arena import store as arena_store

    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        info = (await arena_store.read_info([arena_id])).get(arena_id)
        if info is not None and check(info):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the arena's owner did not report that")
