"""Connect Four rules: examples, then properties over random games (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from game.rules import (
    COLUMNS,
    EMPTY,
    ROWS,
    IllegalMoveError,
    Position,
    from_board,
    legal_columns,
    play,
    replay,
    winning_lines,
)


def test_pieces_fall_to_the_lowest_free_row() -> None:
    position = replay([3, 3, 3])
    assert [position.cell(r, 3) for r in range(4)] == ["1", "2", "1", EMPTY]
    assert position.last == (2, 3)
    assert position.turn == 2


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        ([0, 0, 1, 1, 2, 2, 3], 1),  # horizontal
        ([0, 1, 0, 1, 0, 1, 0], 1),  # vertical
        ([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], 1),  # diagonal /
        ([6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3], 1),  # diagonal \
        ([6, 0, 0, 1, 1, 2, 2, 3], 2),  # player 2, horizontal
    ],
)
def test_four_in_a_row_wins(moves: list[int], winner: int) -> None:
    position = replay(moves)
    assert position.winner == winner
    assert len(position.line) >= 4
    assert legal_columns(position) == []
    with pytest.raises(IllegalMoveError, match="over"):
        play(position, 5)


def test_three_is_not_enough() -> None:
    assert replay([0, 0, 1, 1, 2]).winner == 0


def test_a_full_board_without_four_is_a_draw() -> None:
    # Columns filled in pairs in an order that never lines up four.
    order = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2]
    order += [4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4, 6, 6, 6, 6, 6, 6]
    position = replay(order)
    assert position.draw
    assert position.winner == 0
    assert legal_columns(position) == []


@pytest.mark.parametrize("column", [-1, 7, 99, True, "3", 2.0, None])
def test_columns_outside_the_board_are_refused(column: object) -> None:
    with pytest.raises(IllegalMoveError, match="no such column"):
        play(Position(), column)  # type: ignore[arg-type]


def test_a_full_column_and_the_wrong_player_are_refused() -> None:
    position = replay([2] * ROWS)
    with pytest.raises(IllegalMoveError, match="full"):
        play(position, 2)
    with pytest.raises(IllegalMoveError, match="not your turn"):
        play(position, 0, player=2)


def test_from_board_recomputes_the_result() -> None:
    won = replay([0, 0, 1, 1, 2, 2, 3])
    assert from_board(won.board, won.turn).winner == 1
    with pytest.raises(ValueError, match="board"):
        from_board("x" * 42, 1)


def _has_four(board: str, piece: str) -> bool:
    def at(r: int, c: int) -> str:
        return board[r * COLUMNS + c] if 0 <= r < ROWS and 0 <= c < COLUMNS else ""

    return any(
        all(at(r + i * dr, c + i * dc) == piece for i in range(4))
        for r in range(ROWS)
        for c in range(COLUMNS)
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1))
    )


def _no_floating_pieces(board: str) -> bool:
    for c in range(COLUMNS):
        column = [board[r * COLUMNS + c] for r in range(ROWS)]
        filled = "".join(column).rstrip(EMPTY)
        if EMPTY in filled:
            return False
    return True


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=COLUMNS - 1), max_size=60))
def test_random_games_never_reach_an_illegal_state(choices: list[int]) -> None:
    position = Position()
    played = 0
    for choice in choices:
        legal = legal_columns(position)
        if not legal:
            break
        column = legal[choice % len(legal)]
        before = position
        position = play(position, column)
        played += 1
        # One more piece, of the mover's colour, in that column, resting on the stack.
        assert position.board.count(EMPTY) == before.board.count(EMPTY) - 1
        row, col = position.last
        assert col == column
        assert position.cell(row, col) == str(before.turn)
        assert _no_floating_pieces(position.board)
        counts = (position.board.count("1"), position.board.count("2"))
        assert counts[0] - counts[1] in (0, 1)
        # A winner found really has four in a row; no four means no winner.
        if position.winner:
            assert _has_four(position.board, str(position.winner))
            assert all(position.cell(r, c) == str(position.winner) for r, c in position.line)
        else:
            assert not _has_four(position.board, "1")
            assert not _has_four(position.board, "2")
        assert position.draw == (not position.winner and EMPTY not in position.board)
        _check_winning_lines(position)
        assert from_board(position.board, position.turn).winner == position.winner
    assert played <= COLUMNS * ROWS


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=10), max_size=50))
def test_any_column_sequence_is_applied_or_refused_never_corrupted(columns: list[int]) -> None:
    position = Position()
    for column in columns:
        try:
            after = play(position, column)
        except IllegalMoveError:
            assert column not in legal_columns(position)
            continue
        assert column in legal_columns(position)
        position = after
    assert _no_floating_pieces(position.board)


def _check_winning_lines(position: Position) -> None:
    """The winning lines are runs of the winner's pieces through the last move, each
    whole (no same piece just before or after it); none before anyone has won."""
    lines = winning_lines(position.board)
    assert bool(lines) == bool(position.winner)
    for line in lines:
        assert len(line) >= 4
        assert position.last in line
        assert {position.cell(r, c) for r, c in line} == {str(position.winner)}
        (r0, c0), (r1, c1) = line[0], line[1]
        dr, dc = r1 - r0, c1 - c0
        assert (dr, dc) in ((0, 1), (1, 0), (1, 1), (1, -1))
        assert all(line[i] == (r0 + i * dr, c0 + i * dc) for i in range(len(line)))
        for r, c in ((r0 - dr, c0 - dc), (r0 + len(line) * dr, c0 + len(line) * dc)):
            assert not (0 <= r < ROWS and 0 <= c < COLUMNS) or position.cell(r, c) != str(
                position.winner
            )
    assert set(position.line) <= {cell for line in lines for cell in line}


def test_winning_lines_lists_each_line_the_winning_move_made() -> None:
    # A piece at column 4 of the bottom row ending a row (columns 1 to 4) and a column
    # (rows 1 to 4) at once: both are the win.
    rows = ["1111222", "2221...", "...1...", "...1...", ".......", "......."]
    assert set(winning_lines("".join(rows))) == {
        ((0, 0), (0, 1), (0, 2), (0, 3)),
        ((0, 3), (1, 3), (2, 3), (3, 3)),
    }
    # Five in a row is one line of five, not two of four.
    assert winning_lines("2111112" + "." * 35) == (((0, 1), (0, 2), (0, 3), (0, 4), (0, 5)),)
    assert winning_lines(replay([0, 1, 0, 1, 0, 1]).board) == ()
