import assert from "node:assert/strict";
import {test} from "node:test";

import {LAPSE_MARGIN_MS, lapseTimer} from "../../../../static/chat/room/mute_lapse.js";
import {manualTimers} from "../../support/timers.js";

function timer() {
  const timers = manualTimers();
  const clear = (t) => timers.waiting.splice(timers.waiting.indexOf(t), 1);
  return {timers, untilLapsed: lapseTimer({set: timers.set, clear})};
}

test("a mute with an expiry lapses a little after it", () => {
  const {timers, untilLapsed} = timer();
  const lapsed = [];
  untilLapsed(5000, () => lapsed.push("now"));
  assert.deepEqual(timers.waiting.map((t) => t.ms), [5000 + LAPSE_MARGIN_MS]);
  timers.fire();
  assert.deepEqual(lapsed, ["now"]);
});

test("a mute until lifted, or a newer word, cancels the waiting lapse", () => {
  const {timers, untilLapsed} = timer();
  const lapsed = [];
  untilLapsed(5000, () => lapsed.push("first"));
  untilLapsed(null, () => lapsed.push("second"));
  assert.equal(timers.waiting.length, 0);
  untilLapsed(1000, () => lapsed.push("third"));
  untilLapsed(9000, () => lapsed.push("fourth"));
  assert.equal(timers.waiting.length, 1);
  timers.fire();
  assert.deepEqual(lapsed, ["fourth"]);
});

test("a mute for longer than a timer can wait waits in steps", () => {
  const {timers, untilLapsed} = timer();
  const lapsed = [];
  const month = 31 * 24 * 3600 * 1000;
  untilLapsed(month, () => lapsed.push("done"));
  assert.equal(timers.waiting[0].ms, 2 ** 31 - 1);
  timers.fire();
  assert.deepEqual(lapsed, []);
  assert.equal(timers.waiting[0].ms, month + LAPSE_MARGIN_MS - (2 ** 31 - 1));
  timers.fire();
  assert.deepEqual(lapsed, ["done"]);
});
