"""Every change to a Connect Four game, and the broadcast that goes with it.

The server is the referee: each action locks the game row, checks it against the rules
(``game.rules``) and the game's state, stores the result, bumps the version and
broadcasts the whole state after commit. The lobby, the game page, the admin and the
tests all come through here. It is synchronous database code and calls no Redis while
it holds a row lock; who is on the game's pages is ``game.presence``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Exists
from django.utils import timezone

from common.sql import Compiled
from game import protocol, rules, selectors
from game.models import Game, Move, Reason, Status
from game.players import pairing_lock, player_check
from notifications.services import notification_fold, notification_send, times
from realtime import presence
from realtime.broadcast import publish_on_commit
from realtime.errors import ActionError, ErrorCode


def _locked(game_id: int) -> Game:
    # of=("self",): lock the game row only, not the joined players' rows (PostgreSQL).
    game = (
        Game.objects.select_for_update(of=("self",))
        .filter(pk=game_id)
        .select_related("player1", "player2")
        .first()
    )
    if game is None:
        raise ActionError(ErrorCode.NOT_FOUND, "This game does not exist.")
    return game


@functools.cache
def _locked_for_query() -> tuple[list[str], list[str], Compiled]:
    """The game row locked, its players, and whether the acting user is still active:
    what every move reads first, in one query compiled once (common.sql)."""
    user_model = get_user_model()
    game_fields = [field.attname for field in Game._meta.concrete_fields]
    user_fields = [field.attname for field in user_model._meta.concrete_fields]
    query = Compiled(
        lambda p: (
            Game.objects.select_for_update(of=("self",))
            .filter(pk=p.game)
            .annotate(user_active=Exists(user_model.objects.filter(pk=p.user, is_active=True)))
            .values_list(
                *game_fields,
                *(f"player1__{name}" for name in user_fields),
                *(f"player2__{name}" for name in user_fields),
                "user_active",
            )
        ),
        game=int,
        user=int,
    )
    return game_fields, user_fields, query


def _locked_for(game_id: int, user: Any) -> Game:
    """``_locked`` and ``_require_user`` in one query: the game and its players, refused
    if the user's account was deactivated since the socket opened."""
    if not getattr(user, "is_authenticated", False):
        raise ActionError(ErrorCode.AUTH_REQUIRED, "Log in to play.")
    game_fields, user_fields, query = _locked_for_query()
    row = query.first(game=game_id, user=user.pk)
    if row is None:
        raise ActionError(ErrorCode.NOT_FOUND, "This game does not exist.")
    if not row[-1]:
        raise ActionError(ErrorCode.AUTH_REQUIRED, "Log in to play.")
    game = Game.from_db(DEFAULT_DB_ALIAS, game_fields, row[: len(game_fields)])
    user_model = get_user_model()
    start = len(game_fields)
    for field in (Game.player1.field, Game.player2.field):
        values = row[start : start + len(user_fields)]
        start += len(user_fields)
        player = (
            None if values[0] is None else user_model.from_db(DEFAULT_DB_ALIAS, user_fields, values)
        )
        field.set_cached_value(game, player)
    return game


def _publish(
    game: Game, *, last: list[int] | None = None, declined: int | None = None, lobby: bool = True
) -> None:
    """The new state to the game's sockets, and (unless ``lobby`` is off: a move or a
    presence change, which the lobby's list does not show) the game's line to the lobby."""
    game.version += 1
    game.save()
    publish_on_commit(
        protocol.game_group(game.pk),
        protocol.State(game=protocol.GameData.of(game), last=last, declined=declined),
        cursor=game.version,
    )
    if game.private or not (lobby or game.status != Status.ACTIVE):
        return
    if game.status in (Status.WAITING, Status.ACTIVE):
        publish_on_commit(protocol.LOBBY_GROUP, protocol.Listed(game=protocol.Summary.of(game)))
    else:
        publish_on_commit(protocol.LOBBY_GROUP, protocol.Removed(id=game.pk))


def _player_number(game: Game, user: Any) -> int:
    player_check(user)
    return _number_in(game, user)


def _number_in(game: Game, user: Any) -> int:
    """The user's player number in the game (its account already checked)."""
    number = game.number_of(user)
    if number is None:
        raise ActionError(ErrorCode.FORBIDDEN, "Only the game's players can do that.")
    return number


def _require_active(game: Game) -> None:
    if game.status != Status.ACTIVE:
        raise ActionError(ErrorCode.GAME_OVER, "This game is over.")


def _finish(game: Game, *, winner: int | None, reason: Reason) -> None:
    game.status = Status.FINISHED
    game.winner = winner
    game.reason = reason
    game.draw_offer = None
    game.finished_at = timezone.now()


def _start(game: Game, opponent: Any) -> None:
    game.player2 = opponent
    game.status = Status.ACTIVE
    game.started_at = timezone.now()


# ---------------------------------------------------------------- lobby


def game_create(*, user: Any, private: bool = False) -> Game:
    """Open a game and wait for an opponent (a user has one waiting public game at most)."""
    player_check(user)
    with transaction.atomic():
        if not private:
            waiting = Game.objects.filter(
                player1=user, status=Status.WAITING, private=False
            ).first()
            if waiting is not None:
                return waiting
        game = Game.objects.create(player1=user, private=private)
        _publish(game)
    return game


def game_join(*, game_id: int, user: Any, code: str | None = None) -> Game:
    player_check(user)
    with transaction.atomic():
        game = _locked(game_id)
        if game.number_of(user) is not None:
            return game  # already in it (a second tab, a double click)
        if game.status != Status.WAITING or not game.player1.is_active:
            raise ActionError(ErrorCode.GAME_OVER, "This game is no longer open to join.")
        if game.private and code != game.invite_code:
            raise ActionError(
                ErrorCode.FORBIDDEN, "This game can only be joined with its invitation link."
            )
        _start(game, user)
        _publish(game)
    return game


def game_cancel(*, game_id: int, user: Any) -> Game:
    player_check(user)
    with transaction.atomic():
        game = _locked(game_id)
        if game.player1_id != getattr(user, "pk", None):
            raise ActionError(
                ErrorCode.FORBIDDEN, "Only the player who opened this game can cancel it."
            )
        if game.status != Status.WAITING:
            raise ActionError(
                ErrorCode.GAME_OVER, "This game has started, so it can no longer be cancelled."
            )
        game.status = Status.ABORTED
        game.reason = Reason.CANCELLED
        game.finished_at = timezone.now()
        _publish(game)
    return game


def game_quick_play(*, user: Any) -> Game:
    """Pair with the longest-waiting player, or open a game and wait.

    Quick plays take one lock, so two at the same moment end up in one game."""
    player_check(user)
    with transaction.atomic():
        pairing_lock()
        mine = Game.objects.filter(player1=user, status=Status.WAITING, private=False).first()
        if mine is not None:
            return mine
        other = selectors.games_open(excluding=user).order_by("id").first()
        if other is None:
            return game_create(user=user)
        return game_join(game_id=other.pk, user=user)


# ---------------------------------------------------------------- play


def game_move(*, game_id: int, user: Any, column: int) -> Game:
    """Apply one move if the rules and the game's state allow it; otherwise change nothing."""
    with transaction.atomic():
        game = _locked_for(game_id, user)
        number = _number_in(game, user)  # _locked_for checked the account
        _require_active(game)
        if game.turn != number:
            raise ActionError(ErrorCode.NOT_YOUR_TURN, "It is not your turn.")
        try:
            after = rules.play(rules.from_board(game.board, game.turn), column, number)
        except rules.IllegalMoveError as error:
            raise ActionError(ErrorCode.ILLEGAL_MOVE, str(error)) from None
        if after.last is None:  # never: play() notes the piece it dropped
            raise ActionError(ErrorCode.ILLEGAL_MOVE, "That move could not be played.")
        row, col = after.last
        moves = game.board.count("1") + game.board.count("2")
        Move.objects.create(game=game, number=moves + 1, player=number, column=col, row=row)
        game.board = after.board
        game.turn = after.turn
        game.draw_offer = None  # a move answers a draw offer with "no"
        if after.winner:
            _finish(game, winner=after.winner, reason=Reason.FOUR)
        elif after.draw:
            _finish(game, winner=None, reason=Reason.FULL)
        _publish(game, last=[row, col], lobby=False)
        opponent_number = 3 - number
        if game.status == Status.ACTIVE and not _online(game, opponent_number):
            _notify(game, opponent_number, "Your turn", f"{user.get_username()} has moved.")
    return game


def _online(game: Game, number: int) -> bool:
    return game.player1_online if number == 1 else game.player2_online


def _notify(game: Game, number: int, title: str, body: str) -> None:
    notification_send(
        title=f"{title} (game #{game.pk})",
        body=body,
        link=game.get_absolute_url(),
        users=[game.player(number)],
    )


def game_resign(*, game_id: int, user: Any) -> Game:
    with transaction.atomic():
        game = _locked(game_id)
        number = _player_number(game, user)
        _require_active(game)
        _finish(game, winner=3 - number, reason=Reason.RESIGNED)
        _publish(game)
    return game


def game_offer_draw(*, game_id: int, user: Any) -> Game:
    with transaction.atomic():
        game = _locked(game_id)
        number = _player_number(game, user)
        _require_active(game)
        if game.draw_offer == 3 - number:  # both want it: agreed
            _finish(game, winner=None, reason=Reason.AGREED)
        else:
            game.draw_offer = number
        _publish(game)
    return game


def game_answer_draw(*, game_id: int, user: Any, accept: bool) -> Game:
    with transaction.atomic():
        game = _locked(game_id)
        number = _player_number(game, user)
        _require_active(game)
        if game.draw_offer != 3 - number:
            raise ActionError(ErrorCode.INVALID, "There is no draw offer to answer.")
        if accept:
            _finish(game, winner=None, reason=Reason.AGREED)
            _publish(game)
        else:
            game.draw_offer = None
            _publish(game, declined=3 - number)
    return game


def game_claim_win(*, game_id: int, user: Any) -> Game:
    """The player who stayed wins once the other has been gone for the grace period."""
    grace = timedelta(seconds=protocol.grace_seconds())
    # Asked of Redis before the row lock, not while holding it.
    present = _players_with_sockets(game_id)
    with transaction.atomic():
        game = _locked(game_id)
        number = _player_number(game, user)
        _require_active(game)
        other = 3 - number
        # Marked online, but no socket of theirs is alive: their server process died
        # without saying goodbye. They are away from now on.
        ghost = _online(game, other) and other not in present
        if ghost:
            _set_presence(game, other, online=False)
            _publish(game, lobby=False)
        else:
            left_at = game.player1_left_at if other == 1 else game.player2_left_at
            if _online(game, other) or left_at is None or timezone.now() - left_at < grace:
                raise ActionError(
                    ErrorCode.INVALID,
                    "You can claim the win once your opponent has been away for"
                    f" {grace.seconds} seconds.",
                )
            _finish(game, winner=number, reason=Reason.ABANDONED)
            _publish(game)
    if ghost:
        raise ActionError(
            ErrorCode.INVALID,
            f"Your opponent has left. You can claim the win in {grace.seconds} seconds.",
        )
    return game


def _players_with_sockets(game_id: int) -> set[int]:
    """The numbers of the players with a live socket on the game's page. If Redis cannot
    say, both count as there: nobody's seat is taken on a guess."""
    game = selectors.game_get(game_id=game_id)
    if game is None:
        return {1, 2}
    try:
        return {
            number
            for number in (1, 2)
            if (player := game.player(number)) is not None
            and presence.sockets_of(
                room_id=protocol.page_presence(game.pk),
                user_id=player.pk,
                username=player.get_username(),
            )
            > 0
        }
    except Exception:
        return {1, 2}


def _set_presence(game: Game, number: int, *, online: bool) -> None:
    left_at = None if online else timezone.now()
    if number == 1:
        game.player1_online, game.player1_left_at = online, left_at
    else:
        game.player2_online, game.player2_left_at = online, left_at


def game_rematch(*, game_id: int, user: Any) -> Game:
    """Ask for a rematch; when both have asked, a new game starts with colours swapped.
    Returns the new game once there is one, else this game."""
    with transaction.atomic():
        game = _locked(game_id)
        number = _player_number(game, user)
        if game.status != Status.FINISHED:
            raise ActionError(ErrorCode.INVALID, "A rematch can be offered once the game is over.")
        if game.rematch is not None:  # no query when there is none (rematch_id is None)
            return game.rematch
        if game.rematch_offer != 3 - number:
            game.rematch_offer = number
            _publish(game)
            return game
        first = game.player2
        if first is None:  # never: player 2 is one of the two who asked
            raise ActionError(ErrorCode.INVALID, "A rematch needs two players.")
        rematch = Game.objects.create(
            player1=first,
            player2=game.player1,
            private=game.private,
            status=Status.ACTIVE,
            started_at=timezone.now(),
            player1_online=game.player2_online,
            player2_online=game.player1_online,
        )
        _publish(rematch)
        game.rematch = rematch
        _publish(game)
    return rematch


def game_invite(*, game_id: int, user: Any, username: str) -> Any:
    """Invite someone to a waiting game, through the notifications app."""
    player_check(user)
    with transaction.atomic():
        game = _locked(game_id)
        if game.player1_id != getattr(user, "pk", None) or game.status != Status.WAITING:
            raise ActionError(
                ErrorCode.FORBIDDEN,
                "You can invite someone only to your own game, while it waits for a second player.",
            )
        invitee = get_user_model().objects.filter(username=username, is_active=True).first()
        if invitee is not None and invitee.pk == user.pk:
            raise ActionError(
                ErrorCode.INVALID, "You are already in this game. Invite someone else."
            )
        if invitee is None:
            raise ActionError(
                ErrorCode.NOT_FOUND,
                f"There is no player called {username}. Check the spelling of the name.",
            )
        link = game.get_absolute_url() + (f"?code={game.invite_code}" if game.private else "")
        name = user.get_username()
        # Repeated invitations from one player fold into one notification.
        notification_fold(
            key=f"invite:{user.pk}",
            user=invitee,
            title=lambda n: f"{name} invited you{times(n)} to Connect Four",
            body=f"Game #{game.pk} is waiting for you.",
            link=link,
            created_by=user,
        )
    return invitee


# ---------------------------------------------------------------- presence and staff


def game_player_presence(*, game_id: int, user: Any, online: bool) -> None:
    """A player's first socket on the game page arrived, or their last one left."""
    with transaction.atomic():
        game = _locked(game_id)
        number = game.number_of(user)
        if number is None or game.status not in (Status.WAITING, Status.ACTIVE):
            return
        _set_presence(game, number, online=online)
        _publish(game, lobby=False)


@dataclass(frozen=True)
class StaffOutcome:
    """What a staff action did: how many games it changed, and the games it refused
    because they had not started (their ids)."""

    done: int
    not_started: list[int]


def _staff_action(
    games: Any, change: Callable[[Game], None], *, statuses: tuple[Status, ...]
) -> StaffOutcome:
    done, not_started = 0, []
    with transaction.atomic():
        for game_id in [g.pk for g in games]:
            game = _locked(game_id)
            if game.status in statuses:
                change(game)
                _publish(game)
                done += 1
            elif game.status == Status.WAITING:
                not_started.append(game.pk)
    return StaffOutcome(done=done, not_started=not_started)


def game_abort(*, games: Any) -> StaffOutcome:
    """Staff: stop games with no result, waiting or in progress. Players see it at once."""

    def abort(game: Game) -> None:
        game.status = Status.ABORTED
        game.reason = Reason.STAFF
        game.finished_at = timezone.now()

    return _staff_action(games, abort, statuses=(Status.WAITING, Status.ACTIVE))


def game_end_drawn(*, games: Any) -> StaffOutcome:
    """Staff: end games in progress as a draw. A game still waiting for its second player
    has nobody to draw with: it is refused (``not_started``), and can be aborted instead."""
    return _staff_action(
        games,
        lambda game: _finish(game, winner=None, reason=Reason.STAFF),
        statuses=(Status.ACTIVE,),
    )
