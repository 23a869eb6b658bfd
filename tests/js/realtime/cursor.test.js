import assert from "node:assert/strict";
import {describe, test} from "node:test";

import {GAP_RESYNC_MS, ResumeCursor} from "../../../static/realtime/cursor.js";
import {manualTimers} from "../support/timers.js";

function cursor({open = true} = {}) {
  const timers = manualTimers();
  const stuck = [];
  const c = new ResumeCursor({
    setTimer: timers.set,
    onStuck: () => {
      stuck.push(c.value);
      return open;
    },
  });
  return {c, timers, stuck};
}

describe("seen", () => {
  test("keeps the highest id, and only ids", () => {
    const {c} = cursor();
    assert.equal(c.value, null);
    c.seen(4);
    c.seen(2);
    c.seen("9");
    assert.equal(c.value, 4);
    c.seen(0);
    assert.equal(c.value, 4);
  });
});

describe("seenInOrder", () => {
  test("moves along while every change arrives in order", () => {
    const {c, timers} = cursor();
    c.synced(5);
    c.seenInOrder(6);
    c.seenInOrder(7);
    assert.equal(c.value, 7);
    assert.equal(timers.waiting.length, 0);
  });

  test("a change that arrives early does not move it past the one still missing", () => {
    const {c} = cursor();
    c.synced(1);
    c.seenInOrder(3); // 2 is on its way (another process committed it first)
    assert.equal(c.value, 1); // a resume from here gets 2
    c.seenInOrder(2);
    assert.equal(c.value, 3);
    assert.equal(c.ahead.size, 0);
  });

  test("a deletion of n messages steps n", () => {
    const {c} = cursor();
    c.synced(2);
    c.seenInOrder(5, 3); // 3, 4, 5
    assert.equal(c.value, 5);
  });

  test("waits for the first sync before it moves", () => {
    const {c} = cursor();
    c.seenInOrder(8);
    assert.equal(c.value, null);
    c.synced(7);
    assert.equal(c.value, 8);
  });

  test("a sync covers every change up to its cursor", () => {
    const {c, timers} = cursor();
    c.synced(1);
    c.seenInOrder(3);
    c.synced(4);
    assert.equal(c.value, 4);
    assert.equal(c.ahead.size, 0);
    timers.fire(); // the gap's timer finds nothing missing
    assert.equal(timers.waiting.length, 0);
    assert.equal(c.synced(2), undefined);
    assert.equal(c.value, 4); // never back
  });
});

describe("a gap that stays open", () => {
  test("is reported after GAP_RESYNC_MS, once", () => {
    const {c, timers, stuck} = cursor();
    c.synced(1);
    c.seenInOrder(3);
    c.seenInOrder(4);
    assert.equal(timers.waiting.length, 1);
    assert.equal(timers.waiting[0].ms, GAP_RESYNC_MS);
    timers.fire();
    assert.deepEqual(stuck, [1]); // the socket is reopened from 1
    assert.equal(timers.waiting.length, 0);
  });

  test("is checked again later while the socket is not open", () => {
    const {c, timers, stuck} = cursor({open: false});
    c.synced(1);
    c.seenInOrder(3);
    timers.fire();
    assert.deepEqual(stuck, [1]);
    assert.equal(timers.waiting.length, 1);
  });

  test("is not reported if the cursor moved meanwhile", () => {
    const {c, timers, stuck} = cursor();
    c.synced(1);
    c.seenInOrder(3);
    c.seenInOrder(5);
    c.seenInOrder(2); // 1..3 now; 4 still missing below 5
    assert.equal(c.value, 3);
    timers.fire();
    assert.deepEqual(stuck, []);
    assert.equal(timers.waiting.length, 1); // 4 gets its own wait
    timers.fire();
    assert.deepEqual(stuck, [3]);
  });
});
