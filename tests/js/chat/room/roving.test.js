import assert from "node:assert/strict";
import {describe, test} from "node:test";

import {nextIndex} from "../../../../static/chat/room/roving.js";

describe("nextIndex", () => {
  test("the arrows step through the row and wrap at its ends", () => {
    assert.equal(nextIndex("ArrowRight", 0, 3), 1);
    assert.equal(nextIndex("ArrowDown", 2, 3), 0);
    assert.equal(nextIndex("ArrowLeft", 0, 3), 2);
    assert.equal(nextIndex("ArrowUp", 2, 3), 1);
  });

  test("Home and End go to the ends; other keys are not the row's", () => {
    assert.equal(nextIndex("Home", 2, 5), 0);
    assert.equal(nextIndex("End", 0, 5), 4);
    assert.equal(nextIndex("Enter", 1, 5), null);
    assert.equal(nextIndex("a", 1, 5), null);
  });
});
