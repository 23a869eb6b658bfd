"""The game pages: lobby, a game, the leaderboard."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from game import protocol, selectors


def lobby(request: HttpRequest) -> HttpResponse:
    return render(request, "game/lobby.html")


def detail(request: HttpRequest, game_id: int) -> HttpResponse:
    game = selectors.game_get(game_id=game_id)
    if game is None:
        raise Http404("No such game")
    code = request.GET.get("code")
    if game.private and game.number_of(request.user) is None and code != game.invite_code:
        raise Http404("No such game")  # private games are not there for guessers
    return render(
        request,
        "game/detail.html",
        {
            "game": game,
            "config": {
                "id": game.pk,
                "code": code if game.private else None,
                "grace": protocol.grace_seconds(),
            },
        },
    )


def leaderboard(request: HttpRequest) -> HttpResponse:
    return render(request, "game/leaderboard.html", {"rows": selectors.leaderboard()})
