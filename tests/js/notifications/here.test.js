import assert from "node:assert/strict";
import {describe, test} from "node:test";

import {shownHere} from "../../../static/notifications/here.js";

const inRoom = new URL("https://site.example/chat/lobby/");

describe("shownHere", () => {
  test("a message of the room on screen is shown here", () => {
    assert.equal(shownHere("/chat/lobby/#m12", inRoom, "visible"), true);
    assert.equal(shownHere("/chat/lobby/#m12", new URL("https://site.example/chat/lobby/#m3"), "visible"), true);
  });

  test("not while the tab is hidden", () => {
    assert.equal(shownHere("/chat/lobby/#m12", inRoom, "hidden"), false);
  });

  test("another room, another page, or a link that is not to a message", () => {
    assert.equal(shownHere("/chat/other/#m12", inRoom, "visible"), false);
    assert.equal(shownHere("/chat/lobby/#m12", new URL("https://site.example/notifications/"), "visible"), false);
    assert.equal(shownHere("/chat/lobby/", inRoom, "visible"), false);
    assert.equal(shownHere("/chat/lobby/#top", inRoom, "visible"), false);
    assert.equal(shownHere("", inRoom, "visible"), false);
    assert.equal(shownHere("https://other.example/chat/lobby/#m12", inRoom, "visible"), false);
  });
});
