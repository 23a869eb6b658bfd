"""The referee: every game change through the services, races included."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import close_old_connections

from game import protocol, rules, selectors, services
from game.models import Game, Move, Reason, Status
from notifications.models import Notification
from realtime import presence
from realtime.errors import ActionError, ErrorCode
from tests.game.conftest import play

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot(game: Game) -> tuple[str, int, int, str, int]:
    game.refresh_from_db()
    return game.board, game.turn, game.version, game.status, Move.objects.filter(game=game).count()


def refused(code: ErrorCode, call: Callable[[], Any]) -> None:
    with pytest.raises(ActionError) as caught:
        call()
    assert caught.value.code == code


def test_a_game_played_to_a_win_is_stored_move_by_move(
    active_game: Game, players: tuple[Any, Any]
) -> None:
    game = play(active_game, players, [0, 1, 0, 1, 0, 1, 0])
    assert (game.status, game.winner, game.reason) == (Status.FINISHED, 1, Reason.FOUR)
    columns = selectors.game_moves(game=game)
    assert columns == [0, 1, 0, 1, 0, 1, 0]
    assert rules.replay(columns).board == game.board
    assert game.version == 2 + 7  # created, joined, seven moves


def test_bad_moves_change_nothing(
    active_game: Game, players: tuple[Any, Any], make_user: Callable[..., Any]
) -> None:
    red, yellow = players
    before = snapshot(active_game)
    gid = active_game.pk
    refused(ErrorCode.NOT_YOUR_TURN, lambda: services.game_move(game_id=gid, user=yellow, column=3))
    refused(ErrorCode.ILLEGAL_MOVE, lambda: services.game_move(game_id=gid, user=red, column=7))
    refused(ErrorCode.ILLEGAL_MOVE, lambda: services.game_move(game_id=gid, user=red, column=-1))
    refused(
        ErrorCode.FORBIDDEN, lambda: services.game_move(game_id=gid, user=make_user(), column=3)
    )
    assert snapshot(active_game) == before
    game = play(active_game, players, [2] * 6)
    refused(ErrorCode.ILLEGAL_MOVE, lambda: services.game_move(game_id=gid, user=red, column=2))
    game = play(game, players, [0, 1, 0, 1, 0, 1, 0])
    after_end = snapshot(game)
    refused(ErrorCode.GAME_OVER, lambda: services.game_move(game_id=gid, user=yellow, column=4))
    assert snapshot(game) == after_end


def test_a_waiting_game_cannot_be_played(players: tuple[Any, Any]) -> None:
    game = services.game_create(user=players[0])
    refused(
        ErrorCode.GAME_OVER, lambda: services.game_move(game_id=game.pk, user=players[0], column=0)
    )


def test_resign_draw_and_rematch_with_colours_swapped(
    active_game: Game, players: tuple[Any, Any]
) -> None:
    red, yellow = players
    gid = active_game.pk
    services.game_offer_draw(game_id=gid, user=red)
    refused(
        ErrorCode.INVALID, lambda: services.game_answer_draw(game_id=gid, user=red, accept=True)
    )
    services.game_answer_draw(game_id=gid, user=yellow, accept=False)
    services.game_offer_draw(game_id=gid, user=yellow)
    game = services.game_answer_draw(game_id=gid, user=red, accept=True)
    assert (game.status, game.winner, game.reason) == (Status.FINISHED, None, Reason.AGREED)

    assert services.game_rematch(game_id=gid, user=red).pk == gid  # an offer, so far
    rematch = services.game_rematch(game_id=gid, user=yellow)
    assert rematch.pk != gid
    assert (rematch.player1, rematch.player2, rematch.status) == (yellow, red, Status.ACTIVE)
    assert services.game_rematch(game_id=gid, user=red).pk == rematch.pk  # no second one

    game = services.game_resign(game_id=rematch.pk, user=yellow)
    assert (game.winner, game.reason) == (2, Reason.RESIGNED)


def test_claiming_the_win_needs_the_opponent_gone_for_the_grace_period(
    active_game: Game, players: tuple[Any, Any], settings: Any
) -> None:
    red, yellow = players
    gid = active_game.pk
    room = protocol.page_presence(gid)
    for user in players:
        services.game_player_presence(game_id=gid, user=user, online=True)
    async_to_sync(presence.enter)(
        room_id=room, user_id=yellow.pk, username=yellow.username, socket_id="tab"
    )
    with pytest.raises(ActionError, match="once your opponent has been away"):
        services.game_claim_win(game_id=gid, user=red)
    async_to_sync(presence.leave)(
        room_id=room, user_id=yellow.pk, username=yellow.username, socket_id="tab"
    )
    services.game_player_presence(game_id=gid, user=yellow, online=False)
    refused(ErrorCode.INVALID, lambda: services.game_claim_win(game_id=gid, user=red))
    settings.GAME_RECONNECT_GRACE_SECONDS = 0
    game = services.game_claim_win(game_id=gid, user=red)
    assert (game.winner, game.reason) == (1, Reason.ABANDONED)


def test_a_player_whose_server_died_is_marked_away_at_the_first_claim(
    active_game: Game, players: tuple[Any, Any], settings: Any
) -> None:
    red, yellow = players
    gid = active_game.pk
    # Marked online, but no socket of theirs is alive anywhere (their process was killed).
    services.game_player_presence(game_id=gid, user=yellow, online=True)
    with pytest.raises(ActionError, match="Your opponent has left"):
        services.game_claim_win(game_id=gid, user=red)
    active_game.refresh_from_db()
    assert active_game.player2_online is False
    assert active_game.player2_left_at is not None
    settings.GAME_RECONNECT_GRACE_SECONDS = 0
    assert services.game_claim_win(game_id=gid, user=red).winner == 1


def test_quick_play_pairs_and_private_games_need_the_code(players: tuple[Any, Any]) -> None:
    red, yellow = players
    first = services.game_quick_play(user=red)
    assert first.status == Status.WAITING
    assert services.game_quick_play(user=red).pk == first.pk  # still waiting, same game
    second = services.game_quick_play(user=yellow)
    assert second.pk == first.pk
    assert second.status == Status.ACTIVE

    private = services.game_create(user=red, private=True)
    refused(ErrorCode.FORBIDDEN, lambda: services.game_join(game_id=private.pk, user=yellow))
    joined = services.game_join(game_id=private.pk, user=yellow, code=private.invite_code)
    assert joined.status == Status.ACTIVE


def test_your_turn_and_invites_arrive_as_notifications(
    active_game: Game, players: tuple[Any, Any], make_user: Callable[..., Any]
) -> None:
    red, yellow = players
    services.game_player_presence(game_id=active_game.pk, user=yellow, online=True)
    services.game_move(game_id=active_game.pk, user=red, column=3)
    assert not Notification.objects.exists()  # yellow is on the page
    services.game_move(game_id=active_game.pk, user=yellow, column=3)  # red is not
    note = Notification.objects.get()
    assert note.title == f"Your turn (game #{active_game.pk})"
    assert note.link == f"/game/{active_game.pk}/"
    assert list(note.recipients.values_list("user__username", flat=True)) == ["red"]

    friend = make_user("friend")
    waiting = services.game_create(user=red, private=True)
    services.game_invite(game_id=waiting.pk, user=red, username="friend")
    invite = Notification.objects.filter(recipients__user=friend).get()
    assert invite.link == f"/game/{waiting.pk}/?code={waiting.invite_code}"
    refused(
        ErrorCode.NOT_FOUND,
        lambda: services.game_invite(game_id=waiting.pk, user=red, username="nobody"),
    )


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as error:
            results[i] = error
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_moves_at_once_never_both_apply(active_game: Game, players: tuple[Any, Any]) -> None:
    red, _ = players
    for _attempt in range(5):
        active_game.refresh_from_db()
        mover = players[active_game.turn - 1]
        results = _race(
            lambda m=mover: services.game_move(game_id=active_game.pk, user=m, column=3),
            lambda m=mover: services.game_move(game_id=active_game.pk, user=m, column=4),
        )
        applied = [r for r in results if isinstance(r, Game)]
        errors = [r for r in results if isinstance(r, ActionError)]
        assert len(applied) == 1, results
        assert [e.code for e in errors] == [ErrorCode.NOT_YOUR_TURN]
    active_game.refresh_from_db()
    assert Move.objects.filter(game=active_game).count() == 5
    assert rules.replay(selectors.game_moves(game=active_game)).board == active_game.board
    assert red  # the players took turns


def test_two_quick_plays_at_once_make_one_game(make_user: Callable[..., Any]) -> None:
    for _attempt in range(3):
        a, b = make_user(), make_user()
        results = _race(
            lambda a=a: services.game_quick_play(user=a),
            lambda b=b: services.game_quick_play(user=b),
        )
        assert all(isinstance(r, Game) for r in results), results
        assert results[0].pk == results[1].pk
        game = Game.objects.get(pk=results[0].pk)
        assert game.status == Status.ACTIVE
        assert {game.player1_id, game.player2_id} == {a.pk, b.pk}
        assert not Game.objects.filter(status=Status.WAITING).exists()


def test_staff_abort_and_end(active_game: Game, players: tuple[Any, Any]) -> None:
    waiting = services.game_create(user=players[0])
    assert services.game_abort(games=[waiting]).done == 1
    assert services.game_end_drawn(games=Game.objects.filter(pk=active_game.pk)).done == 1
    waiting.refresh_from_db()
    active_game.refresh_from_db()
    assert (waiting.status, waiting.reason) == (Status.ABORTED, Reason.STAFF)
    assert (active_game.status, active_game.winner, active_game.reason) == (
        Status.FINISHED,
        None,
        Reason.STAFF,
    )
    assert services.game_abort(games=[active_game]).done == 0  # already over


def test_staff_cannot_end_a_game_that_has_not_started_as_a_draw(
    active_game: Game, players: tuple[Any, Any]
) -> None:
    waiting = services.game_create(user=players[0])
    outcome = services.game_end_drawn(
        games=Game.objects.filter(pk__in=[waiting.pk, active_game.pk])
    )
    assert (outcome.done, outcome.not_started) == (1, [waiting.pk])
    waiting.refresh_from_db()
    assert (waiting.status, waiting.reason, waiting.version) == (Status.WAITING, "", 1)
    active_game.refresh_from_db()
    assert (active_game.status, active_game.reason) == (Status.FINISHED, Reason.STAFF)


def test_a_deactivated_players_waiting_game_is_never_offered(make_user: Callable[..., Any]) -> None:
    leaver, player = make_user(), make_user()
    left_behind = services.game_create(user=leaver)
    leaver.is_active = False
    leaver.save()
    waiting, _playing = selectors.lobby_games()
    assert left_behind not in waiting
    mine = services.game_quick_play(user=player)
    assert mine.pk != left_behind.pk
    assert (mine.status, mine.player1) == (Status.WAITING, player)
    with pytest.raises(ActionError) as refused:
        services.game_join(game_id=left_behind.pk, user=make_user())
    assert refused.value.code == ErrorCode.GAME_OVER
