"""Connect Four rules: 7 columns, 6 rows, gravity, four in a row wins, a full board draws.

Pure: no Django, no I/O. The board is a string of 42 cells, row by row from the
bottom ("." empty, "1" and "2" the players), so it is stored and sent as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

COLUMNS = 7
ROWS = 6
EMPTY = "."
PLAYERS = ("1", "2")
IN_A_ROW = 4
EMPTY_BOARD = EMPTY * (COLUMNS * ROWS)

# (row step, column step): horizontal, vertical, and both diagonals.
_DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))


class IllegalMoveError(ValueError):
    """A move the rules do not allow; the message says why."""


@dataclass(frozen=True)
class Position:
    board: str = EMPTY_BOARD
    turn: int = 1  # whose move: 1 or 2
    winner: int = 0  # 0 while undecided
    draw: bool = False
    last: tuple[int, int] | None = None  # (row, column) of the last piece
    line: tuple[tuple[int, int], ...] = ()  # the winning four (or more)

    @property
    def over(self) -> bool:
        return self.winner != 0 or self.draw

    def cell(self, row: int, column: int) -> str:
        return self.board[row * COLUMNS + column]


def legal_columns(position: Position) -> list[int]:
    if position.over:
        return []
    top = (ROWS - 1) * COLUMNS
    return [c for c in range(COLUMNS) if position.board[top + c] == EMPTY]


def landing_row(board: str, column: int) -> int | None:
    for row in range(ROWS):
        if board[row * COLUMNS + column] == EMPTY:
            return row
    return None


def _line_through(board: str, row: int, column: int) -> tuple[tuple[int, int], ...]:
    piece = board[row * COLUMNS + column]
    for dr, dc in _DIRECTIONS:
        cells = [(row, column)]
        for sign in (1, -1):
            r, c = row + sign * dr, column + sign * dc
            while 0 <= r < ROWS and 0 <= c < COLUMNS and board[r * COLUMNS + c] == piece:
                cells.append((r, c))
                r, c = r + sign * dr, c + sign * dc
        if len(cells) >= IN_A_ROW:
            return tuple(sorted(cells))
    return ()


def winning_lines(board: str) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Every run of four or more of one player's pieces on the board, each run whole and
    its cells (row, column) in order along it. The winning move can make more than one
    (a row and a diagonal at once); all of them are marked and described."""
    lines = []
    for index, piece in enumerate(board):
        if piece == EMPTY:
            continue
        row, column = divmod(index, COLUMNS)
        for dr, dc in _DIRECTIONS:
            r, c = row - dr, column - dc
            if 0 <= r < ROWS and 0 <= c < COLUMNS and board[r * COLUMNS + c] == piece:
                continue  # not where this run starts: counted from its start
            cells = []
            r, c = row, column
            while 0 <= r < ROWS and 0 <= c < COLUMNS and board[r * COLUMNS + c] == piece:
                cells.append((r, c))
                r, c = r + dr, c + dc
            if len(cells) >= IN_A_ROW:
                lines.append(tuple(cells))
    return tuple(lines)


def play(position: Position, column: int, player: int | None = None) -> Position:
    """The position after ``player`` (default: whoever's turn it is) drops in ``column``."""
    if position.over:
        raise IllegalMoveError("This game is over.")
    if player is not None and player != position.turn:
        raise IllegalMoveError("It is not your turn.")
    if not isinstance(column, int) or isinstance(column, bool) or not 0 <= column < COLUMNS:
        raise IllegalMoveError(f"There is no such column. Choose one of the {COLUMNS} columns.")
    row = landing_row(position.board, column)
    if row is None:
        raise IllegalMoveError("That column is full. Choose another one.")
    index = row * COLUMNS + column
    board = position.board[:index] + PLAYERS[position.turn - 1] + position.board[index + 1 :]
    line = _line_through(board, row, column)
    return Position(
        board=board,
        turn=3 - position.turn,
        winner=position.turn if line else 0,
        draw=not line and EMPTY not in board,
        last=(row, column),
        line=line,
    )


def replay(columns: list[int]) -> Position:
    """The position after these moves from the start (raises IllegalMoveError on a bad one)."""
    position = Position()
    for column in columns:
        position = play(position, column)
    return position


def from_board(board: str, turn: int) -> Position:
    """A stored position (board and turn; the result is recomputed, not trusted)."""
    if len(board) != COLUMNS * ROWS or set(board) - {EMPTY, *PLAYERS}:
        raise ValueError("not a Connect Four board")
    for index, piece in enumerate(board):
        if piece != EMPTY:
            line = _line_through(board, index // COLUMNS, index % COLUMNS)
            if line:
                return Position(board=board, turn=turn, winner=int(piece), line=line)
    return Position(board=board, turn=turn, draw=EMPTY not in board)
