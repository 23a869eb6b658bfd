import assert from "node:assert/strict";
import {test} from "node:test";

import {boardAt, describeLine, nextMoves, replayWords, stepFor, winningWords} from "../../../static/game/replay.js";

test("the move list grows by the column of each move, and stays for a state without one", () => {
  const moves = [3, 4];
  assert.deepEqual(nextMoves(moves, 3, [0, 2]), [3, 4, 2]);
  assert.equal(nextMoves(moves, 2, null), moves);
  assert.equal(nextMoves(moves, 2, [0, 4]), moves); // the ring kept, no new move
  assert.equal(nextMoves(moves, 5, [1, 1]), null); // missed moves: not guessed
  assert.equal(nextMoves(moves, 3, null), null);
});

test("the board at a move drops the pieces in turn, red first (as game/rules.py)", () => {
  const moves = [3, 3, 4];
  assert.deepEqual(boardAt(moves, 0), {board: ".".repeat(42), last: null});
  const two = boardAt(moves, 2);
  assert.equal(two.board.slice(0, 7), "...1...");
  assert.equal(two.board.slice(7, 14), "...2...");
  assert.deepEqual(two.last, [1, 3]);
  const all = boardAt(moves, 3);
  assert.equal(all.board.slice(0, 7), "...11..");
  assert.deepEqual(all.last, [0, 4]);
  assert.deepEqual(boardAt(moves, 99), all);
});

test("a winning line is told in plain words, counted from 1", () => {
  assert.equal(describeLine([[0, 1], [0, 2], [0, 3], [0, 4]]), "columns 2 to 5 on row 1");
  assert.equal(describeLine([[0, 2], [1, 2], [2, 2], [3, 2]]), "rows 1 to 4 in column 3");
  assert.equal(describeLine([[0, 0], [1, 1], [2, 2], [3, 3]]), "from column 1, row 1 to column 4, row 4");
  assert.equal(describeLine([[0, 6], [1, 5], [2, 4], [3, 3]]), "from column 7, row 1 to column 4, row 4");
  assert.equal(
    winningWords([[[0, 0], [0, 1], [0, 2], [0, 3]], [[0, 3], [1, 3], [2, 3], [3, 3]]]),
    "four in a row, columns 1 to 4 on row 1 and rows 1 to 4 in column 4",
  );
  assert.equal(winningWords([[[0, 1], [0, 2], [0, 3], [0, 4], [0, 5]]]), "five in a row, columns 2 to 6 on row 1");
  assert.equal(winningWords([]), "four in a row");
});

test("the replay steps one move with the arrows, to either end with Home and End", () => {
  assert.equal(stepFor("ArrowRight", 0, 5), 1);
  assert.equal(stepFor("ArrowLeft", 3, 5), 2);
  assert.equal(stepFor("ArrowLeft", 0, 5), 0);
  assert.equal(stepFor("ArrowRight", 5, 5), 5);
  assert.equal(stepFor("Home", 3, 5), 0);
  assert.equal(stepFor("End", 1, 5), 5);
  assert.equal(stepFor("Enter", 1, 5), null);
});

test("the replay says which move is shown and who played it", () => {
  const name = (n) => (n === 1 ? "ruby" : "sunny");
  assert.equal(replayWords([3, 4, 2], 0, name), "Start: the empty board (3 moves in all).");
  assert.equal(replayWords([3, 4, 2], 2, name), "Move 2 of 3: sunny, column 5.");
  assert.equal(replayWords([3, 4, 2], 3, name), "Move 3 of 3: ruby, column 3.");
});
