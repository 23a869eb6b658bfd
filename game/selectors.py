"""Reads of games: one game, the lobby's lists, a game's moves, the leaderboard."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, QuerySet, Sum

from game.models import Arena, ArenaResult, Game, Move, Status

LOBBY_LIST_LIMIT = 50


def game_get(*, game_id: int) -> Game | None:
    return Game.objects.select_related("player1", "player2").filter(pk=game_id).first()


def _listed(status: Status) -> QuerySet[Game]:
    return Game.objects.filter(status=status, private=False).select_related("player1", "player2")


def games_open(*, excluding: Any = None) -> QuerySet[Game]:
    """Public games waiting for an opponent whose creator's account is still active
    (the waiting game of someone who left and was deactivated is never offered)."""
    games = _listed(Status.WAITING).filter(player1__is_active=True)
    return games.exclude(player1=excluding) if excluding is not None else games


def lobby_games() -> tuple[list[Game], list[Game]]:
    """Public games waiting for an opponent (oldest first), and public games in progress."""
    waiting = list(games_open().order_by("id")[:LOBBY_LIST_LIMIT])
    playing = list(_listed(Status.ACTIVE).order_by("-id")[:LOBBY_LIST_LIMIT])
    return waiting, playing


def game_moves(*, game: Game) -> list[int]:
    return list(Move.objects.filter(game=game).order_by("number").values_list("column", flat=True))


def leaderboard(*, limit: int = 50) -> list[dict[str, Any]]:
    """Players by wins (then fewest losses), with their draws and games played."""
    table: dict[int, dict[str, int]] = defaultdict(
        lambda: {"wins": 0, "losses": 0, "draws": 0, "played": 0}
    )
    finished = Game.objects.filter(status=Status.FINISHED).values_list(
        "player1_id", "player2_id", "winner"
    )
    for first, second, winner in finished.iterator():
        for number, user_id in ((1, first), (2, second)):
            row = table[user_id]
            row["played"] += 1
            if winner is None:
                row["draws"] += 1
            elif winner == number:
                row["wins"] += 1
            else:
                row["losses"] += 1
    names = dict(get_user_model().objects.filter(pk__in=table).values_list("pk", "username"))
    rows: list[dict[str, Any]] = [
        {"username": names.get(pk, "?"), **row} for pk, row in table.items()
    ]
    rows.sort(key=lambda r: (-r["wins"], r["losses"], -r["draws"], r["username"]))
    return rows[:limit]


# ---------------------------------------------------------------- arenas


def arena_get(*, arena_id: int) -> Arena | None:
    return Arena.objects.filter(pk=arena_id).first()


def arenas_open() -> list[Arena]:
    """Public open arenas, newest first (the lobby's list)."""
    return list(
        Arena.objects.filter(status=Arena.State.OPEN, private=False).order_by("-id")[
            :LOBBY_LIST_LIMIT
        ]
    )


def arena_leaderboard(*, limit: int = 50) -> list[dict[str, Any]]:
    """Arena players by total score over every stored round, with their best round."""
    rows = (
        ArenaResult.objects.values("user__username")
        .annotate(
            total=Sum("score"),
            best=Max("score"),
            rounds=Count("id"),
            kills=Sum("kills"),
            deaths=Sum("deaths"),
        )
        .order_by("-total", "-best", "user__username")[:limit]
    )
    return [
        {
            "username": row["user__username"],
            "total": row["total"],
            "best": row["best"],
            "rounds": row["rounds"],
            "kills": row["kills"],
            "deaths": row["deaths"],
        }
        for row in rows
    ]
