"""Moves through two real daphne processes sharing the database and Redis: the same
move sent through both at the same moment applies once, and every move reaches the
sockets of both processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from game import rules, selectors, services
from game.models import Game, Move
from tests.conftest import Daphne, session_cookie, ws_connect, ws_next

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_move_sent_through_two_processes_at_once_applies_once(
    daphne_server: Daphne, second_daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    red = await database_sync_to_async(make_user)()
    yellow = await database_sync_to_async(make_user)()
    game = await database_sync_to_async(services.game_create)(user=red)
    await database_sync_to_async(services.game_join)(game_id=game.pk, user=yellow)
    cookies = [await database_sync_to_async(session_cookie)(u) for u in (red, yellow)]
    path = f"/ws/game/{game.pk}/"
    # Each player has a tab on each process; a spectator watches on the second one.
    tabs = {
        (player, server.port): await ws_connect(server, path, cookies[player])
        for player in (0, 1)
        for server in (daphne_server, second_daphne_server)
    }
    spectator = await ws_connect(second_daphne_server, path)
    try:
        for ws in [*tabs.values(), spectator]:
            await ws_next(ws, "sync")
        for turn in range(6):
            player = turn % 2
            a, b = tabs[(player, daphne_server.port)], tabs[(player, second_daphne_server.port)]
            await asyncio.gather(
                a.send(json.dumps({"type": "move", "column": 3})),
                b.send(json.dumps({"type": "move", "column": 4})),
            )
            # Exactly one of the two is refused, as out of turn.
            errors = 0
            for ws in (a, b):
                try:
                    frame = await ws_next(ws, "error", timeout=1.5)
                    assert frame["code"] == "not_your_turn"
                    errors += 1
                except TimeoutError:
                    pass
            assert errors == 1
            # The spectator on the other process sees the move.
            while True:
                state = await ws_next(spectator, "state")
                if state["game"]["moves"] == turn + 1:
                    break
    finally:
        for ws in [*tabs.values(), spectator]:
            await ws.close()

    def stored() -> tuple[list[int], str]:
        fresh = Game.objects.get(pk=game.pk)
        return selectors.game_moves(game=fresh), fresh.board

    columns, board = await database_sync_to_async(stored)()
    assert len(columns) == 6
    assert rules.replay(columns).board == board
    assert await database_sync_to_async(Move.objects.filter(game_id=game.pk).count)() == 6
