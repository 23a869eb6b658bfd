/*
 * A Connect Four game's moves: the list kept from the server's states, the board at any
 * move (for the replay of a finished game), and the words for the winning four.
 * Pure: no page, no socket (tests/js/game/replay.test.js).
 */
export const COLUMNS = 7;
export const ROWS = 6;
const EMPTY_BOARD = ".".repeat(COLUMNS * ROWS);

// The move list after a state: the same (a state without a move), one longer (a move:
// `last` is its [row, column]), or null when it cannot be known from here (moves were
// missed; the socket's resync then sends them all).
export function nextMoves(moves, count, last) {
  if (count === moves.length) return moves;
  if (count === moves.length + 1 && Array.isArray(last)) return [...moves, last[1]];
  if (count < moves.length) return moves.slice(0, count);
  return null;
}

// The board after the first `count` moves, and where the last of them landed.
export function boardAt(moves, count) {
  const cells = EMPTY_BOARD.split("");
  let last = null;
  for (let i = 0; i < Math.min(count, moves.length); i++) {
    const column = moves[i];
    for (let row = 0; row < ROWS; row++) {
      if (cells[row * COLUMNS + column] === ".") {
        cells[row * COLUMNS + column] = i % 2 === 0 ? "1" : "2";
        last = [row, column];
        break;
      }
    }
  }
  return {board: cells.join(""), last};
}

// Where a winning line is, in plain words, counted from 1 as people count: "columns 2
// to 5 on row 1", "rows 1 to 4 in column 3", or a diagonal's two ends.
export function describeLine(cells) {
  const [r0, c0] = cells[0];
  const [r1, c1] = cells[cells.length - 1];
  if (r0 === r1) return "columns " + (Math.min(c0, c1) + 1) + " to " + (Math.max(c0, c1) + 1) + " on row " + (r0 + 1);
  if (c0 === c1) return "rows " + (Math.min(r0, r1) + 1) + " to " + (Math.max(r0, r1) + 1) + " in column " + (c0 + 1);
  return "from column " + (c0 + 1) + ", row " + (r0 + 1) + " to column " + (c1 + 1) + ", row " + (r1 + 1);
}

const HOW_MANY = {4: "four", 5: "five", 6: "six", 7: "seven"};

// "four in a row, columns 2 to 5 on row 1" (and each further line the last move made;
// "five in a row" when the longest is five).
export function winningWords(lines) {
  if (!lines || !lines.length) return "four in a row";
  const longest = Math.max(...lines.map((line) => line.length));
  return (HOW_MANY[longest] || "four") + " in a row, " + lines.map(describeLine).join(" and ");
}

// The replay's position after a key (or a button naming the same step), or null for a
// key the replay does not use. 0 is the empty board, `total` the final position.
export function stepFor(key, at, total) {
  const steps = {ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: total};
  if (!(key in steps)) return null;
  return Math.max(0, Math.min(total, steps[key]));
}

// What the replay shows at a position, in words: "Move 5 of 23: ruby, column 4.".
export function replayWords(moves, at, name) {
  if (at === 0) return "Start: the empty board (" + moves.length + " moves in all).";
  const number = ((at - 1) % 2) + 1;
  return "Move " + at + " of " + moves.length + ": " + name(number) + ", column " + (moves[at - 1] + 1) + ".";
}
