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


def test_arena_pages_and_private_arenas_need_the_code(players: tuple[Any, Any]) -> None:
    public = services.arena_create(user=players[0])
    page = Client().get(f"/game/arena/{public.pk}/")
    assert page.status_code == 200
    assert b"game/arena.js" in page.content
    assert Client().get("/game/arena/999999/").status_code == 404
    private = services.arena_create(user=players[0], private=True)
    assert Client().get(f"/game/arena/{private.pk}/").status_code == 404
    assert Client().get(f"/game/arena/{private.pk}/?code=wrong").status_code == 404
    invited = Client().get(f"/game/arena/{private.pk}/?code={private.invite_code}")
    assert invited.status_code == 200
    owner = Client()
    owner.force_login(players[0])
    shown = owner.get(f"/game/arena/{private.pk}/")
    assert private.invite_code in shown.content.decode()  # the invite link, to share


def test_the_leaderboard_ranks_arena_players_by_their_total_score(
    players: tuple[Any, Any],
) -> None:
    arena = services.arena_create(user=players[0])
    for number, scores in enumerate([(3, 5), (4, 1)], start=1):
        round_id = services.arena_round_start(arena_id=arena.pk, number=number, seed=number)
        services.arena_round_finish(
            round_id=round_id,
            ticks=100,
            results=[
                {"player": user.pk, "score": score, "length": 3 + score, "kills": 0, "deaths": 1}
                for user, score in zip(players, scores, strict=True)
            ],
            by_staff=False,
        )
    rows = Client().get("/game/leaderboard/").context["arena_rows"]
    assert [(r["username"], r["total"], r["best"], r["rounds"]) for r in rows] == [
        ("red", 7, 4, 2),
        ("yellow", 6, 5, 2),
    ]
