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
