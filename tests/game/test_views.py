"""The game pages: lobby, a game (private ones only with the code), the leaderboard."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from game import services
from game.models import Game
from tests.game.conftest import play

pytestmark = pytest.mark.django_db(transaction=True)


def test_lobby_and_game_pages(active_game: Game) -> None:
    assert Client().get("/game/").status_code == 200
    page = Client().get(f"/game/{active_game.pk}/")
    assert page.status_code == 200
    assert b"game/game.js" in page.content
    assert Client().get("/game/999999/").status_code == 404


def test_private_games_need_the_code_or_a_seat(players: tuple[Any, Any]) -> None:
    private = services.game_create(user=players[0], private=True)
    assert Client().get(f"/game/{private.pk}/").status_code == 404
    assert Client().get(f"/game/{private.pk}/?code=wrong").status_code == 404
    assert Client().get(f"/game/{private.pk}/?code={private.invite_code}").status_code == 200
    owner = Client()
    owner.force_login(players[0])
    assert owner.get(f"/game/{private.pk}/").status_code == 200


def test_leaderboard_counts_results(active_game: Game, players: tuple[Any, Any]) -> None:
    play(active_game, players, [0, 1, 0, 1, 0, 1, 0])  # red wins
    second = services.game_create(user=players[1])
    second = services.game_join(game_id=second.pk, user=players[0])
    services.game_offer_draw(game_id=second.pk, user=players[0])
    services.game_offer_draw(game_id=second.pk, user=players[1])  # agreed
    rows = Client().get("/game/leaderboard/").context["rows"]
    assert [(r["username"], r["wins"], r["losses"], r["draws"], r["played"]) for r in rows] == [
        ("red", 1, 0, 1, 2),
        ("yellow", 0, 1, 1, 2),
    ]
