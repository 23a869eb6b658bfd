"""Staff end or abort games in the admin; the players see it live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from game import services
from tests.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("action", "status", "reason"),
    [("end_as_draw", "finished", "staff"), ("abort", "aborted", "staff")],
)
async def test_staff_action_reaches_the_game_page(
    make_user: Callable[..., Any], action: str, status: str, reason: str
) -> None:
    red = await database_sync_to_async(make_user)()
    yellow = await database_sync_to_async(make_user)()
    staff = Client()
    await database_sync_to_async(staff.force_login)(
        await database_sync_to_async(make_user)(is_staff=True, is_superuser=True)
    )
    game = await database_sync_to_async(services.game_create)(user=red)
    await database_sync_to_async(services.game_join)(game_id=game.pk, user=yellow)
    async with open_socket(f"/ws/game/{game.pk}/") as ws:
        await ws.next("sync")
        changelist = reverse("admin:game_game_changelist")
        listing = await database_sync_to_async(staff.get)(changelist, {"status__exact": "active"})
        assert f"#{game.pk} " in listing.content.decode()
        reply = await database_sync_to_async(staff.post)(
            changelist, {"action": action, "_selected_action": [game.pk]}
        )
        assert reply.status_code == 302
        while True:
            state = (await ws.next("state"))["game"]
            if state["status"] != "active":
                break
        assert (state["status"], state["reason"], state["winner"]) == (status, reason, None)
    page = await database_sync_to_async(staff.get)(
        reverse("admin:game_game_change", args=[game.pk])
    )
    assert page.status_code == 200


async def test_staff_see_arenas_live_and_end_rounds_and_remove_players(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    from game.arena import store as arena_store
    from tests.game.conftest import until_reported
    from tests.game.test_arena import path, tick_where, world_where
    from tests.game.test_consumers import user_with_cookie

    red, red_cookie = await user_with_cookie(make_user, "red")
    yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    staff = Client()
    await database_sync_to_async(staff.force_login)(
        await database_sync_to_async(make_user)(is_staff=True, is_superuser=True)
    )
    arena = await database_sync_to_async(services.arena_create)(user=red)
    async with (
        open_socket(path(arena), cookie=red_cookie) as r,
        open_socket(path(arena), cookie=yellow_cookie) as y,
    ):
        await r.send({"type": "join"})
        await y.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        await tick_where(r, lambda t: True)
        await until_reported(arena.pk, lambda info: info["players"] == 2)
        changelist = reverse("admin:game_arena_changelist")
        listing = (await database_sync_to_async(staff.get)(changelist)).content.decode()
        assert arena.name in listing
        assert "2 (+0 watching)" in listing
        assert arena_store.PROCESS in listing
        change = reverse("admin:game_arena_change", args=[arena.pk])
        page = (await database_sync_to_async(staff.get)(change)).content.decode()
        remove = reverse("admin:game_arena_remove", args=[arena.pk, yellow.pk])
        assert remove in page
        confirm = await database_sync_to_async(staff.get)(remove)
        assert "Remove yellow from" in confirm.content.decode()
        done = await database_sync_to_async(staff.post)(remove)
        assert done.status_code == 302
        left = (await tick_where(r, lambda t: "left" in t))["left"]
        assert left == [{"id": yellow.pk, "username": "yellow"}]
        reply = await database_sync_to_async(staff.post)(
            changelist, {"action": "end_round", "_selected_action": [arena.pk]}
        )
        assert reply.status_code == 302
        over = await r.next("round_over")
        # Yellow played until removed: in the results too.
        assert sorted(row["username"] for row in over["results"]) == ["red", "yellow"]
        await database_sync_to_async(staff.post)(
            changelist, {"action": "close", "_selected_action": [arena.pk]}
        )
        assert (await r.next("closed"))["reason"] == "closed by staff"
    await arena.arefresh_from_db()
    assert arena.status == arena.State.CLOSED


def test_end_as_draw_refuses_games_not_started_and_says_so(make_user: Callable[..., Any]) -> None:
    red, yellow = make_user(), make_user()
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    waiting = services.game_create(user=red)
    playing = services.game_create(user=yellow, private=True)
    services.game_join(game_id=playing.pk, user=red, code=playing.invite_code)
    changelist = reverse("admin:game_game_changelist")

    reply = staff.post(
        changelist, {"action": "end_as_draw", "_selected_action": [waiting.pk]}, follow=True
    )
    text = reply.content.decode()
    assert f"Not ended as a draw: #{waiting.pk} had not started" in text
    assert "Ended 1 game" not in text
    waiting.refresh_from_db()
    assert (waiting.status, waiting.reason) == ("waiting", "")

    reply = staff.post(
        changelist,
        {"action": "end_as_draw", "_selected_action": [waiting.pk, playing.pk]},
        follow=True,
    )
    text = reply.content.decode()
    assert "Ended 1 game(s) as a draw." in text
    assert f"#{waiting.pk} had not started" in text
    waiting.refresh_from_db()
    playing.refresh_from_db()
    assert waiting.status == "waiting"
    assert (playing.status, playing.reason, playing.winner) == ("finished", "staff", None)
