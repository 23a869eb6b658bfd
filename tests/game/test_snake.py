"""Snake arena rules: examples, then properties over random games (hypothesis)."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from game.snake import (
    DIRECTIONS,
    DOWN,
    LEFT,
    OPPOSITE,
    RIGHT,
    STEPS,
    UP,
    Config,
    Snake,
    State,
    TickInputs,
    advance,
    inputs_from_list,
    inputs_to_list,
    join,
    new_state,
    play,
    replay,
    state_from_dict,
    state_to_dict,
    step,
)

QUIET = Config(
    width=12, height=8, food=0, respawn_ticks=3, start_length=3, food_per_player=0, leftovers=0
)


def world(*snakes: Snake, food: tuple[tuple[int, int], ...] = (), config: Config = QUIET) -> State:
    return State(config=config, snakes=snakes, food=food)


def alive(player: int, *body: tuple[int, int], direction: str = RIGHT, grow: int = 0) -> Snake:
    return Snake(player=player, body=body, direction=direction, alive=True, grow=grow)


def test_a_joined_player_enters_at_the_next_tick_with_room_ahead() -> None:
    state = step(new_state(seed=7, config=QUIET, players=[1]), {})
    snake = state.snake(1)
    assert snake is not None
    assert snake.alive
    assert len(snake.body) == 1
    assert snake.grow == QUIET.start_length - 1
    state = step(step(state, {}), {})
    snake = state.snake(1)
    assert snake is not None
    assert snake.alive
    assert len(snake.body) == 3


def test_eating_scores_and_grows() -> None:
    state = world(alive(1, (3, 3), (2, 3)), food=((4, 3),))
    state = step(state, {})
    snake = state.snake(1)
    assert snake is not None
    assert snake.score == 1
    assert snake.body == ((4, 3), (3, 3), (2, 3))  # the tail stayed
    assert state.food == ()
    assert step(state, {}).snake(1).body == ((5, 3), (4, 3), (3, 3))  # type: ignore[union-attr]


def test_the_wall_kills_and_the_snake_comes_back_later() -> None:
    state = world(alive(1, (11, 0)))
    state, events = advance(state, {})
    snake = state.snake(1)
    assert snake is not None
    assert not snake.alive
    assert snake.body == ()
    assert snake.deaths == 1
    assert events.died == ((1, 0),)
    for _ in range(QUIET.respawn_ticks - 1):
        state = step(state, {})
        assert not state.snake(1).alive  # type: ignore[union-attr]
    state, events = advance(state, {})
    assert state.snake(1).alive
    assert [s.player for s in events.spawned] == [1]


def test_running_into_another_snake_credits_its_owner_with_a_kill() -> None:
    state = world(alive(1, (2, 2), (1, 2)), alive(2, (4, 1), (3, 1), (3, 2), (3, 3), direction=UP))
    state, events = advance(state, {})
    assert events.died == ((1, 2),)
    assert state.snake(2).kills == 1
    assert state.snake(1).deaths == 1


def test_a_head_on_crash_kills_both_and_credits_both() -> None:
    state = world(alive(1, (2, 2), (1, 2)), alive(2, (4, 2), (5, 2), direction=LEFT))
    state, events = advance(state, {})
    assert events.died == ((1, 2), (2, 1))
    assert [s.kills for s in state.snakes] == [1, 1]


def test_running_into_yourself_names_yourself_and_credits_nobody() -> None:
    # Coiled: turning right puts the head on its own body.
    state = world(alive(1, (2, 2), (2, 3), (3, 3), (3, 2), (3, 1), direction=UP))
    state, events = advance(state, {1: RIGHT})
    assert events.died == ((1, 1),)
    assert state.snake(1).kills == 0  # type: ignore[union-attr]


def test_a_crashed_snake_keeps_its_length_and_leaves_food() -> None:
    config = replace(QUIET, leftovers=2)
    state = world(alive(1, (11, 4), (10, 4), (9, 4), (8, 4), (7, 4)), config=config)
    state, events = advance(state, {})
    snake = state.snake(1)
    assert snake is not None
    assert snake.body == ()
    assert snake.length == 5  # what the round's results show for a snake that is out
    assert set(state.food) == {(11, 4), (9, 4), (7, 4)}
    assert set(events.placed) == set(state.food)


def test_the_grid_has_food_to_chase() -> None:
    # The default grid with two players: about one item per 60 cells.
    state = replay(new_state(seed=7, players=[1, 2]), [TickInputs()])
    assert len(state.food) == 14


def test_a_head_may_follow_a_tail_that_moves_away() -> None:
    # A square loop: the head enters the cell the tail leaves in the same tick.
    state = world(alive(1, (2, 2), (2, 3), (3, 3), (3, 2), direction=UP))
    state, events = advance(state, {1: RIGHT})
    assert events.died == ()
    assert state.snake(1).body == ((3, 2), (2, 2), (2, 3), (3, 3))  # type: ignore[union-attr]


def test_reversing_is_ignored_and_a_quick_double_turn_works() -> None:
    state = world(alive(1, (5, 4), (4, 4), (3, 4)))
    state = step(state, {1: LEFT})  # straight back: ignored
    assert state.snake(1).body[0] == (6, 4)  # type: ignore[union-attr]
    state = step(step(state, {1: UP}), {1: LEFT})  # up then left: a U-turn over two ticks
    assert state.snake(1).body == ((5, 3), (6, 3), (6, 4))  # type: ignore[union-attr]
    assert state.snake(1).direction == LEFT  # type: ignore[union-attr]


def test_the_same_seed_gives_the_same_game() -> None:
    a = replay(new_state(seed=42, players=[1, 2, 3]), [TickInputs()] * 50)
    b = replay(new_state(seed=42, players=[1, 2, 3]), [TickInputs()] * 50)
    c = replay(new_state(seed=43, players=[1, 2, 3]), [TickInputs()] * 50)
    assert a == b
    assert a != c


# ------------------------------------------------------------------ properties

configs = st.builds(
    Config,
    width=st.integers(4, 16),
    height=st.integers(4, 12),
    food=st.integers(0, 6),
    respawn_ticks=st.integers(0, 6),
    start_length=st.integers(1, 5),
    food_per_player=st.integers(0, 2),
    leftovers=st.integers(0, 3),
)
players = st.integers(1, 12)
tick_inputs = st.builds(
    TickInputs,
    turns=st.dictionaries(players, st.sampled_from(DIRECTIONS), max_size=12),
    joins=st.lists(players, max_size=2).map(tuple),
    leaves=st.lists(players, max_size=1).map(tuple),
)
games = st.tuples(
    st.integers(0, 2**64 - 1),
    configs,
    st.sets(players, min_size=1, max_size=12),
    st.lists(tick_inputs, min_size=1, max_size=60),
)


def cells_of(state: State) -> list[tuple[int, int]]:
    return [cell for snake in state.snakes for cell in snake.body]


@settings(max_examples=300, deadline=None)
@given(games)
def test_properties_hold_through_random_games(game: tuple) -> None:  # type: ignore[type-arg]
    seed, config, first, log = game
    state = new_state(seed=seed, config=config, players=sorted(first))
    eaten = dict.fromkeys(first, 0)
    for inputs in log:
        before = state
        for player in inputs.leaves:
            eaten.pop(player, None)
        for player in inputs.joins:
            eaten.setdefault(player, 0)
        # What play() does first, so "before" is the state the step starts from.
        for player in inputs.leaves:
            before = replace(before, snakes=tuple(s for s in before.snakes if s.player != player))
        for player in inputs.joins:
            before = join(before, player)
        state, events = play(state, inputs)

        # No two snakes (nor a snake and itself) share a cell; all are on the grid.
        cells = cells_of(state)
        assert len(cells) == len(set(cells))
        assert all(0 <= x < config.width and 0 <= y < config.height for x, y in cells)
        assert not set(cells) & set(state.food)

        moved = {player for player, _head, _dropped in events.moved}
        spawned = {snake.player for snake in events.spawned}
        for old in before.snakes:
            new = state.snake(old.player)
            assert new is not None
            if not old.alive:
                # A dead snake does not move (it may only come back, on its tick).
                assert old.player not in moved
                assert new.body == () or old.player in spawned
                continue
            wanted = inputs.turns.get(old.player)
            if new.alive and old.player not in spawned:
                # Reversing onto yourself is ignored: it went on the way it was going.
                if wanted == OPPOSITE[old.direction]:
                    assert new.direction == old.direction
                dx, dy = STEPS[new.direction]
                assert new.body[0] == (old.body[0][0] + dx, old.body[0][1] + dy)
                if new.body[0] in before.food:
                    eaten[old.player] += 1
        # The score is the food eaten.
        for snake in state.snakes:
            assert snake.score == eaten[snake.player]
    # A replay of the stored inputs, through their stored (JSON) forms, gives the same state.
    stored = json.loads(json.dumps([inputs_to_list(i) for i in log]))
    start = json.loads(
        json.dumps(state_to_dict(new_state(seed=seed, config=config, players=sorted(first))))
    )
    assert replay(state_from_dict(start), [inputs_from_list(i) for i in stored]) == state


@settings(max_examples=100, deadline=None)
@given(games, st.integers(0, 59))
def test_a_snapshot_mid_game_replays_to_the_same_end(game: tuple, cut: int) -> None:  # type: ignore[type-arg]
    seed, config, first, log = game
    start = new_state(seed=seed, config=config, players=sorted(first))
    cut = min(cut, len(log))
    middle = replay(start, log[:cut])
    snapshot = state_from_dict(json.loads(json.dumps(state_to_dict(middle))))
    assert replay(snapshot, log[cut:]) == replay(start, log)


def test_the_directions_are_the_four_arrows() -> None:
    assert set(DIRECTIONS) == {UP, DOWN, LEFT, RIGHT}
