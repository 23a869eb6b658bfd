import assert from "node:assert/strict";
import {test} from "node:test";

import {DIRECTIONS, OPPOSITE, directionOf, moved, nextHead, turned} from "../../../static/game/snake_rules.js";

test("a turn applies unless it is straight back (as game/snake.py's step 1)", () => {
  assert.equal(turned("right", "up"), "up");
  assert.equal(turned("right", "down"), "down");
  assert.equal(turned("right", "right"), "right");
  assert.equal(turned("right", "left"), "right"); // onto itself: ignored
  for (const direction of DIRECTIONS) assert.equal(turned(direction, OPPOSITE[direction]), direction);
});

test("no turn, or a word that is no direction, changes nothing", () => {
  for (const wanted of [null, undefined, "", "north", "toString", "__proto__", 1]) {
    assert.equal(turned("up", wanted), "up", String(wanted));
  }
});

test("the head moves one cell; the tail follows unless the snake grows (step 2)", () => {
  const body = [[5, 5], [4, 5], [3, 5]];
  assert.deepEqual(nextHead([5, 5], "up"), [5, 4]);
  assert.deepEqual(nextHead([5, 5], "left"), [4, 5]);
  assert.deepEqual(moved(body, "down"), [[5, 6], [5, 5], [4, 5]]);
  assert.deepEqual(moved(body, "right", true), [[6, 5], [5, 5], [4, 5], [3, 5]]);
  assert.deepEqual(body, [[5, 5], [4, 5], [3, 5]]); // not changed in place
});

test("the direction of a move from one cell to the next", () => {
  assert.equal(directionOf([3, 3], [4, 3]), "right");
  assert.equal(directionOf([3, 3], [2, 3]), "left");
  assert.equal(directionOf([3, 3], [3, 4]), "down");
  assert.equal(directionOf([3, 3], [3, 2]), "up");
  for (const direction of DIRECTIONS) assert.equal(directionOf([9, 9], nextHead([9, 9], direction)), direction);
});
