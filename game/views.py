"""The game pages: lobby, a game, the leaderboard."""

from __future__ import annotations

from django.conf import settings
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


def arena(request: HttpRequest, arena_id: int) -> HttpResponse:
    found = selectors.arena_get(arena_id=arena_id)
    if found is None:
        raise Http404("No such arena")
    code = request.GET.get("code")
    mine = found.created_by_id is not None and found.created_by_id == request.user.pk
    if found.private and not mine and code != found.invite_code:
        raise Http404("No such arena")  # private arenas are not there for guessers
    return render(
        request,
        "game/arena.html",
        {
            "arena": found,
            "invite_url": request.build_absolute_uri(found.invite_url()) if found.private else "",
            "config": {
                "id": found.pk,
                "code": code if found.private else None,
                "closed": found.status != found.State.OPEN,
                "max_players": settings.ARENA_MAX_PLAYERS,
            },
        },
    )


def leaderboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "game/leaderboard.html",
        {"rows": selectors.leaderboard(), "arena_rows": selectors.arena_leaderboard()},
    )
