"""A hypothesis state machine against the game services: random sequences of moves by
both players and a spectator (out of turn, illegal, after the end), resignations and
draw offers. Nothing illegal is ever accepted, and the stored game always equals what the
rules module says."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from game import rules, selectors, services
from game.models import Game, Move, Status
from realtime.errors import ActionError, ErrorCode
from tests.reliability.figures import report

# `make chaos` runs 1,000 sequences; CI a smaller sample of the same machine.
SEQUENCES = int(os.environ.get("RT_GAME_SEQUENCES", "100"))


def _user() -> Any:
    return get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:12]}")


class GameMachine(RuleBasedStateMachine):
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        self.players = [_user(), _user()]
        self.spectator = _user()
        game = services.game_create(user=self.players[0])
        self.game_id = services.game_join(game_id=game.pk, user=self.players[1]).pk
        self.model = rules.Position()
        self.active = True
        self.moves = 0

    def _who(self, who: int) -> Any:
        return self.spectator if who == 0 else self.players[who - 1]

    @rule(who=st.integers(0, 2), column=st.integers(-2, 8))
    def move(self, who: int, column: int) -> None:
        expected_ok = (
            self.active and who == self.model.turn and column in rules.legal_columns(self.model)
        )
        refused: ErrorCode | None = None
        try:
            services.game_move(game_id=self.game_id, user=self._who(who), column=column)
        except ActionError as error:
            refused = error.code
        if refused is not None:
            assert not expected_ok, f"a legal move was refused: {refused}"
            if who == 0:
                assert refused == ErrorCode.FORBIDDEN
            elif not self.active:
                assert refused == ErrorCode.GAME_OVER
            elif who != self.model.turn:
                assert refused == ErrorCode.NOT_YOUR_TURN
            else:
                assert refused == ErrorCode.ILLEGAL_MOVE
            return
        assert expected_ok, "an illegal move was accepted"
        self.model = rules.play(self.model, column)
        self.moves += 1
        self.active = not self.model.over

    @rule(who=st.integers(0, 2))
    def resign(self, who: int) -> None:
        try:
            services.game_resign(game_id=self.game_id, user=self._who(who))
        except ActionError:
            assert who == 0 or not self.active
            return
        assert who != 0
        assert self.active
        self.active = False

    @rule(first=st.integers(1, 2), accept=st.booleans())
    def draw(self, first: int, accept: bool) -> None:
        try:
            services.game_offer_draw(game_id=self.game_id, user=self._who(first))
        except ActionError:
            assert not self.active
            return
        services.game_answer_draw(game_id=self.game_id, user=self._who(3 - first), accept=accept)
        if accept:
            self.active = False

    @invariant()
    def stored_game_equals_the_rules(self) -> None:
        GameMachine.steps += 1
        game = Game.objects.get(pk=self.game_id)
        assert game.board == self.model.board
        assert (game.status == Status.ACTIVE) == self.active
        assert Move.objects.filter(game=game).count() == self.moves
        assert rules.replay(selectors.game_moves(game=game)).board == game.board
        if self.active:
            assert game.turn == self.model.turn
        if self.model.winner:
            assert game.winner == self.model.winner


@pytest.mark.django_db(transaction=True)
def test_no_illegal_move_is_ever_accepted() -> None:
    GameMachine.steps = 0
    run_state_machine_as_test(
        GameMachine,
        settings=settings(
            max_examples=SEQUENCES,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    report(
        f"[game machine] {SEQUENCES} sequences, {GameMachine.steps} actions: "
        "no illegal move accepted, stored games equal the rules"
    )
