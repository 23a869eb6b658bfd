import assert from "node:assert/strict";
import {describe, test} from "node:test";

import {ArenaModel} from "../../../static/game/arena_model.js";

const TICK_MS = 100;
const ME = 3;
const OTHER = 5;

function world(overrides = {}) {
  return {
    epoch: 1,
    tick: 10,
    tick_ms: TICK_MS,
    phase: "play",
    round: 1,
    ends_in: 100,
    width: 40,
    height: 28,
    respawn_ticks: 20,
    food: [[20, 20]],
    snakes: [
      {player: ME, body: [[5, 5], [4, 5], [3, 5]], direction: "right", alive: true, respawn_in: 0, score: 0, kills: 0, deaths: 0},
      {player: OTHER, body: [[9, 9], [9, 10]], direction: "up", alive: true, respawn_in: 0, score: 2, kills: 0, deaths: 0},
    ],
    players: [{id: ME, username: "ruby"}, {id: OTHER, username: "sunny"}],
    acks: [],
    results: null,
    ...overrides,
  };
}

function playing(now = 0) {
  const arena = new ArenaModel();
  arena.me = {id: ME, username: "ruby"};
  arena.load(world(), now);
  return arena;
}

const tick = (t, fields = {}) => ({type: "tick", t, e: 1, ...fields});

describe("steering", () => {
  test("a turn is sent once, and not straight back onto itself", () => {
    const arena = playing();
    assert.equal(arena.steer("right", 0), null); // the way it goes already
    assert.equal(arena.steer("left", 0), null); // straight back
    assert.deepEqual(arena.steer("up", 0), {dir: "up", seq: 1});
    assert.equal(arena.steer("up", 0), null);
    assert.equal(arena.steer("down", 0), null); // back from the turn just asked for
    assert.deepEqual(arena.steer("left", 0), {dir: "left", seq: 2}); // a quick double turn
  });

  test("only a living snake, during play, steers; a watcher does not", () => {
    const arena = playing();
    arena.world.phase = "results";
    assert.equal(arena.steer("up", 0), null);
    const watcher = new ArenaModel();
    watcher.me = {id: 99, username: "visitor"};
    watcher.load(world(), 0);
    assert.equal(watcher.steer("up", 0), null);
  });
});

describe("prediction", () => {
  test("the own snake is drawn toward the cell its first pending turn leads to", () => {
    const arena = playing();
    assert.equal(arena.predictedDirection(), "right");
    assert.deepEqual(arena.path(ME), [[[5, 5], [4, 5], [3, 5]], [[6, 5], [5, 5], [4, 5]]]);
    arena.steer("up", 0);
    assert.equal(arena.predictedDirection(), "up");
    assert.deepEqual(arena.path(ME)[1], [[5, 4], [5, 5], [4, 5]]);
  });

  test("others are drawn one tick behind, from their last tick to this one", () => {
    const arena = playing();
    arena.applyTick(tick(11, {moved: [[OTHER, 9, 8, 1], [ME, 6, 5, 1]]}), 100);
    assert.deepEqual(arena.path(OTHER), [[[9, 9], [9, 10]], [[9, 8], [9, 9]]]);
  });
});

describe("reconciliation with the server", () => {
  test("a tick's acks drop the turns it applied; prediction goes on from the rest", () => {
    const arena = playing();
    arena.steer("up", 0); // seq 1
    arena.steer("left", 0); // seq 2
    const events = arena.applyTick(tick(11, {moved: [[ME, 5, 4, 1]], acks: [[ME, 1]]}), 100);
    assert.deepEqual(events, []);
    assert.deepEqual(arena.pending.map((p) => p.seq), [2]);
    const me = arena.mySnake();
    assert.deepEqual(me.body, [[5, 4], [5, 5], [4, 5]]);
    assert.equal(me.direction, "up"); // from the server's move
    assert.equal(arena.predictedDirection(), "left");
  });

  test("when the server disagrees, its move wins", () => {
    const arena = playing();
    arena.steer("up", 0);
    // The turn came too late for this tick: the snake went on right.
    arena.applyTick(tick(11, {moved: [[ME, 6, 5, 1]]}), 100);
    const me = arena.mySnake();
    assert.deepEqual(me.body, [[6, 5], [5, 5], [4, 5]]);
    assert.equal(me.direction, "right");
    assert.equal(arena.predictedDirection(), "up"); // still pending: the next tick may take it
    // Acked by the next tick's move up.
    arena.applyTick(tick(12, {moved: [[ME, 6, 4, 1]], acks: [[ME, 1]]}), 200);
    assert.equal(arena.mySnake().direction, "up");
    assert.deepEqual(arena.pending, []);
  });

  test("turns never applied are let go after four ticks", () => {
    const arena = playing();
    arena.steer("up", 0);
    arena.applyTick(tick(11), 4 * TICK_MS - 1);
    assert.equal(arena.pending.length, 1);
    arena.applyTick(tick(12), 4 * TICK_MS);
    assert.deepEqual(arena.pending, []);
    assert.equal(arena.predictedDirection(), "right");
  });

  test("a world replaces everything; its acks say which pending turns it applied", () => {
    const arena = playing();
    arena.steer("up", 0);
    arena.steer("left", 0);
    arena.load(world({epoch: 2, tick: 40, acks: [[ME, 1]]}), 500);
    assert.deepEqual(arena.pending.map((p) => p.seq), [2]);
    arena.load(world({epoch: 3, tick: 50, acks: []}), 600); // no word on ours: start over
    assert.deepEqual(arena.pending, []);
  });

  test("a tick that does not follow the world held is not applied (the server resyncs)", () => {
    const arena = playing();
    assert.equal(arena.applyTick(tick(12), 100), null); // 11 missing
    assert.equal(arena.applyTick({...tick(11), e: 2}, 100), null); // another owner's
    assert.equal(arena.world.tick, 10);
    assert.notEqual(arena.applyTick(tick(11), 100), null);
    assert.equal(arena.world.tick, 11);
  });
});

describe("what a tick reports", () => {
  test("the viewer's crash, score, return, and the scoreboard's changes, in order", () => {
    const arena = playing();
    let events = arena.applyTick(tick(11, {died: [[ME, OTHER]], scores: [[ME, 0, 0, 1], [OTHER, 2, 1, 0]]}), 100);
    assert.deepEqual(events, [{kind: "crashed", killer: OTHER}, {kind: "scores"}]);
    assert.equal(arena.mySnake().alive, false);
    assert.equal(arena.mySnake().respawnIn, 20);
    assert.equal(arena.steer("up", 100), null); // out: nothing to steer
    const back = {player: ME, body: [[1, 1]], direction: "down", alive: true, respawn_in: 0, score: 0, kills: 0, deaths: 1};
    events = arena.applyTick(tick(12, {spawned: [back], eaten: [[20, 20]], food: [[2, 2]], scores: [[ME, 1, 0, 1]]}), 200);
    assert.deepEqual(events, [{kind: "back"}, {kind: "ate", score: 1}, {kind: "scores"}]);
    assert.deepEqual([...arena.food.values()], [[2, 2]]);
  });

  test("a crash says what it hit, and the crashed body fades out", () => {
    const arena = playing();
    arena.applyTick(tick(11, {died: [[ME, OTHER]]}), 100);
    assert.equal(arena.crashedInto(), "sunny");
    assert.deepEqual(arena.fading(450).map((w) => [w.player, w.body.length, w.faded]), [[ME, 3, 0.5]]);
    assert.deepEqual(arena.fading(900), []); // gone after a while
    const back = {player: ME, body: [[1, 1]], direction: "down", alive: true, respawn_in: 0, score: 0, kills: 0, deaths: 1};
    arena.applyTick(tick(12, {spawned: [back]}), 200);
    assert.equal(arena.crashedInto(), null);
    assert.equal(arena.spawnedAt, 200); // where it came back is shown for a moment
    const wall = playing();
    wall.applyTick(tick(11, {died: [[ME, 0]]}), 100);
    assert.equal(wall.crashedInto(), "the wall");
    const itself = playing();
    itself.applyTick(tick(11, {died: [[ME, ME]]}), 100);
    assert.equal(itself.crashedInto(), "yourself");
  });

  test("joining and leaving; only a new name is news", () => {
    const arena = new ArenaModel();
    arena.me = {id: 8, username: "bo"};
    assert.equal(arena.load(world(), 0), false);
    let events = arena.applyTick(tick(11, {joined: [{id: 8, username: "bo"}, {id: ME, username: "ruby"}]}), 100);
    assert.deepEqual(events, [{kind: "joined"}, {kind: "players"}, {kind: "scores"}]);
    assert.equal(arena.playing, true);
    events = arena.applyTick(tick(12, {left: [{id: 8, username: "bo"}], refused: [8]}), 200);
    assert.deepEqual(events, [{kind: "left"}, {kind: "refused"}, {kind: "players"}, {kind: "scores"}]);
    assert.equal(arena.playing, false);
    // A world that lists the viewer makes them a player.
    assert.equal(arena.load(world({players: [{id: 8, username: "bo"}]}), 300), true);
  });
});
