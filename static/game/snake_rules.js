/*
 * The snake arena's movement rule, as game/snake.py has it (steps 1 and 2 of a tick),
 * for the page's prediction of its own snake. Pure: no DOM.
 *
 * 1. a snake takes its player's turn unless it reverses onto itself (then it goes on);
 * 2. the head moves one cell that way; the tail follows, unless the snake grows.
 */

export const STEPS = Object.freeze({up: [0, -1], down: [0, 1], left: [-1, 0], right: [1, 0]});
export const OPPOSITE = Object.freeze({up: "down", down: "up", left: "right", right: "left"});
export const DIRECTIONS = Object.freeze(Object.keys(STEPS));

export function isDirection(value) {
  return typeof value === "string" && Object.hasOwn(STEPS, value);
}

/** The direction a snake heading ``direction`` takes when asked for ``wanted`` (which
 * may be nothing): ``wanted``, unless that is straight back. */
export function turned(direction, wanted) {
  return isDirection(wanted) && wanted !== OPPOSITE[direction] ? wanted : direction;
}

export function nextHead([x, y], direction) {
  const [dx, dy] = STEPS[direction];
  return [x + dx, y + dy];
}

/** The body (head first) one tick on, heading ``direction``. */
export function moved(body, direction, grows = false) {
  const head = nextHead(body[0], direction);
  return [head, ...(grows ? body : body.slice(0, -1))];
}

/** The direction of a move from cell ``from`` to the next cell ``to``. */
export function directionOf([fromX, fromY], [toX, toY]) {
  if (toX > fromX) return "right";
  if (toX < fromX) return "left";
  return toY > fromY ? "down" : "up";
}
