"""The lobby and game sockets over the real Redis channel layer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from game import services
from game.models import Game, Status
from notifications.models import Notification
from tests.conftest import open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)
LOBBY = "/ws/game/lobby/"


async def game_between(make_user: Callable[..., Any]) -> tuple[Any, Any, Game]:
    """red and yellow, each with a session cookie, and an active game between them."""
    red = await user_with_cookie(make_user, "red")
    yellow = await user_with_cookie(make_user, "yellow")
    game = await database_sync_to_async(services.game_create)(user=red[0])
    await database_sync_to_async(services.game_join)(game_id=game.pk, user=yellow[0])
    return red, yellow, game


async def state_where(ws: Any, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The next state frame that passes ``check`` (presence changes also send states)."""
    while True:
        frame = await ws.next("state")
        if check(frame):
            return frame


async def user_with_cookie(make_user: Callable[..., Any], name: str) -> tuple[Any, str]:
    user = await database_sync_to_async(make_user)(name)
    return user, await database_sync_to_async(session_cookie)(user)


async def test_lobby_lists_games_live_and_quick_play_pairs(make_user: Callable[..., Any]) -> None:
    _red, red_cookie = await user_with_cookie(make_user, "red")
    _yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    async with open_socket(LOBBY) as watcher, open_socket(LOBBY, cookie=red_cookie) as r:
        sync = await watcher.next("sync")
        assert (sync["waiting"], sync["playing"], sync["me"]) == ([], [], None)
        assert (await r.next("sync"))["me"]["username"] == "red"
        assert (await watcher.next("online"))["count"] == 1
        await r.send({"type": "quick_play"})
        game_id = (await r.next("joined"))["game"]["id"]
        listed = (await watcher.next("game"))["game"]
        assert (listed["id"], listed["status"], listed["players"]) == (game_id, "waiting", ["red"])
        async with open_socket(LOBBY, cookie=yellow_cookie) as y:
            assert [g["id"] for g in (await y.next("sync"))["waiting"]] == [game_id]
            await y.send({"type": "quick_play"})
            assert (await y.next("joined"))["game"]["id"] == game_id
        listed = (await watcher.next("game"))["game"]
        assert (listed["status"], listed["players"]) == ("active", ["red", "yellow"])
        # Create and cancel: it appears, then goes.
        await r.send({"type": "create"})
        second = (await r.next("joined"))["game"]["id"]
        assert (await watcher.next("game"))["game"]["id"] == second
        await r.send({"type": "cancel", "id": second})
        assert (await watcher.next("game.removed"))["id"] == second
        # A visitor cannot play; bad frames get errors; the socket stays usable.
        await watcher.send({"type": "quick_play"})
        assert (await watcher.next("error"))["code"] == "auth_required"
        await r.send({"type": "join", "id": "x"})
        assert (await r.next("error"))["code"] == "invalid"
        await r.send({"type": "cancel", "id": game_id})
        assert (await r.next("error"))["code"] == "game_over"
        await r.usable()


async def test_moves_reach_players_and_spectators_and_bad_moves_change_nothing(
    make_user: Callable[..., Any],
) -> None:
    (_red, red_cookie), (_yellow, yellow_cookie), game = await game_between(make_user)
    path = f"/ws/game/{game.pk}/"
    async with (
        contextlib.AsyncExitStack() as stack,
        open_socket(path, cookie=red_cookie) as r,
        open_socket(path, cookie=yellow_cookie) as y,
    ):
        # A socket is accepted before it connects: both players are in once their syncs came.
        assert (await r.next("sync"))["you"]["number"] == 1
        assert (await y.next("sync"))["you"]["number"] == 2
        spectator = await stack.enter_async_context(open_socket(path))
        sync = await spectator.next("sync")
        assert sync["you"]["number"] is None
        assert [p["online"] for p in sync["game"]["players"]] == [True, True]
        assert (await r.next("spectators"))["count"] == 1

        await r.send({"type": "move", "column": 3})
        states = [await state_where(s, lambda f: f["last"] is not None) for s in (r, y, spectator)]
        versions = {s["game"]["version"] for s in states}
        assert len(versions) == 1
        assert {tuple(s["last"]) for s in states} == {(0, 3)}
        assert states[0]["game"]["board"][3] == "1"
        assert states[0]["game"]["turn"] == 2

        for socket, frame, code in [
            (r, {"type": "move", "column": 4}, "not_your_turn"),
            (y, {"type": "move", "column": 9}, "illegal_move"),
            (y, {"type": "move", "column": "3"}, "invalid"),
            (y, {"type": "move"}, "invalid"),
            (spectator, {"type": "move", "column": 4}, "auth_required"),
            (spectator, {"type": "resign"}, "auth_required"),
        ]:
            await socket.send(frame)
            assert (await socket.next("error"))["code"] == code, frame
        await r.nothing("state", within=0.3)
        for socket in (r, y, spectator):
            await socket.usable()

        await y.send({"type": "resign"})
        final = (await state_where(spectator, lambda f: f["game"]["status"] != "active"))["game"]
        assert (final["status"], final["winner"], final["reason"]) == ("finished", 1, "resigned")


async def test_reconnect_gets_the_full_state_and_the_grace_period_claim(
    make_user: Callable[..., Any], settings: Any
) -> None:
    settings.GAME_RECONNECT_GRACE_SECONDS = 0.5
    (_red, red_cookie), (_yellow, yellow_cookie), game = await game_between(make_user)
    path = f"/ws/game/{game.pk}/"
    async with open_socket(path, cookie=red_cookie) as r:
        await r.next("sync")
        async with open_socket(path, cookie=yellow_cookie) as y:
            await y.next("sync")
            await r.send({"type": "move", "column": 0})
            await state_where(y, lambda f: f["last"] == [0, 0])
            await y.send({"type": "move", "column": 1})
            await state_where(y, lambda f: f["last"] == [0, 1])
        # Yellow is gone: red sees it, and cannot claim before the grace period.
        gone = await state_where(r, lambda f: f["game"]["players"][1]["left_at"] is not None)
        assert gone["game"]["players"][1]["online"] is False
        await r.send({"type": "claim_win"})
        assert (await r.next("error"))["code"] == "invalid"
        # Yellow comes back: the whole game, by version, and play goes on.
        async with open_socket(path, cookie=yellow_cookie) as y:
            sync = await y.next("sync")
            assert sync["moves"] == [0, 1]
            assert sync["game"]["board"][:2] == "12"
            assert sync["game"]["turn"] == 1
        await state_where(r, lambda f: f["game"]["players"][1]["left_at"] is not None)
        await asyncio.sleep(0.6)
        await r.send({"type": "claim_win"})
        final = (await state_where(r, lambda f: f["game"]["status"] == "finished"))["game"]
        assert (final["winner"], final["reason"]) == (1, "abandoned")


async def test_your_turn_is_notified_when_away_and_rematch_moves_both(
    make_user: Callable[..., Any],
) -> None:
    (red, red_cookie), (yellow, yellow_cookie), game = await game_between(make_user)
    async with (
        open_socket(f"/ws/game/{game.pk}/", cookie=red_cookie) as r,
        open_socket("/ws/notifications/", cookie=yellow_cookie) as inbox,
    ):
        await r.next("sync")
        await inbox.next("sync")
        await r.send({"type": "move", "column": 3})
        note = (await inbox.next("notification"))["notification"]
        assert note["title"] == f"Your turn (game #{game.pk})"
        await r.send({"type": "resign"})
        await r.send({"type": "rematch"})
        offer = await state_where(r, lambda f: f["game"]["rematch_offer"] is not None)
        assert offer["game"]["rematch_offer"] == 1
        await database_sync_to_async(services.game_rematch)(game_id=game.pk, user=yellow)
        state = (await state_where(r, lambda f: f["game"]["rematch_id"] is not None))["game"]
    rematch = await database_sync_to_async(Game.objects.get)(pk=state["rematch_id"])
    assert (rematch.player1_id, rematch.player2_id, rematch.status) == (
        yellow.pk,
        red.pk,
        Status.ACTIVE,
    )
    assert await database_sync_to_async(Notification.objects.count)() == 1


async def test_unknown_and_private_games_are_refused(make_user: Callable[..., Any]) -> None:
    red = await database_sync_to_async(make_user)("red")
    private = await database_sync_to_async(services.game_create)(user=red, private=True)
    with pytest.raises(AssertionError, match="4404"):
        async with open_socket("/ws/game/999999/") as ws:
            await ws.next("sync")
    with pytest.raises(AssertionError, match="4403"):
        async with open_socket(f"/ws/game/{private.pk}/") as ws:
            await ws.next("sync")
    async with open_socket(f"/ws/game/{private.pk}/?code={private.invite_code}") as ws:
        assert (await ws.next("sync"))["game"]["private"] is True


async def test_every_action_is_answered(make_user: Callable[..., Any]) -> None:
    """A player's ``join`` of their own game is acked, like every action with no reply of
    its own, so a client waiting on its ref does not hang."""
    (_red, red_cookie), _yellow, game = await game_between(make_user)
    async with open_socket(f"/ws/game/{game.pk}/", cookie=red_cookie) as ws:
        await ws.next("sync")
        await ws.send({"type": "join", "ref": "j1"})
        assert await ws.next("ack") == {"type": "ack", "ref": "j1"}
        await ws.send({"type": "join"})
        assert await ws.next("ack") == {"type": "ack"}
        await ws.send({"type": "move", "column": 3, "ref": "m1"})
        assert (await ws.next("ack"))["ref"] == "m1"


async def test_repeated_invitations_fold_into_one_notification(
    make_user: Callable[..., Any],
) -> None:
    red, red_cookie = await user_with_cookie(make_user, "red")
    invitee = await database_sync_to_async(make_user)("bo")
    game = await database_sync_to_async(services.game_create)(user=red)
    async with open_socket(f"/ws/game/{game.pk}/", cookie=red_cookie) as ws:
        await ws.next("sync")
        for i in range(15):
            await ws.send({"type": "invite", "username": "bo", "ref": f"i{i}"})
            assert (await ws.next("invited"))["ref"] == f"i{i}"

    def invitations() -> list[Notification]:
        return list(Notification.objects.filter(recipients__user=invitee))

    sent = await database_sync_to_async(invitations)()
    assert len(sent) == 1
    assert (sent[0].fold_count, sent[0].title) == (15, "red invited you 15 times to Connect Four")


async def test_a_declined_draw_offer_and_the_winning_lines_reach_every_page(
    make_user: Callable[..., Any],
) -> None:
    (_red, red_cookie), (_yellow, yellow_cookie), game = await game_between(make_user)
    path = f"/ws/game/{game.pk}/"
    async with (
        open_socket(path, cookie=red_cookie) as r,
        open_socket(path, cookie=yellow_cookie) as y,
    ):
        await r.next("sync")
        await y.next("sync")
        await r.send({"type": "offer_draw"})
        for socket in (r, y):
            await state_where(socket, lambda f: f["game"]["draw_offer"] == 1)
        await y.send({"type": "decline_draw"})
        # The offerer (and everyone) learns whose offer was declined, with the state
        # that clears it; other changes carry no such word.
        for socket in (r, y):
            declined = await state_where(socket, lambda f: f["game"]["draw_offer"] is None)
            assert declined["declined"] == 1
        for column in [0, 1, 0, 1, 0, 1, 0]:
            await (r if column == 0 else y).send({"type": "move", "column": column})
            moved = await state_where(
                r, lambda f, c=column: f["last"] is not None and f["last"][1] == c
            )
            assert moved["declined"] is None
        final = moved["game"]
        assert (final["status"], final["winner"]) == ("finished", 1)
        assert final["lines"] == [[[0, 0], [1, 0], [2, 0], [3, 0]]]
        assert final["line"] == [[0, 0], [1, 0], [2, 0], [3, 0]]
