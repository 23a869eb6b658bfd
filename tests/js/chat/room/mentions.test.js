import assert from "node:assert/strict";
import {test} from "node:test";

import {matchingNames, mentionQuery} from "../../../../static/chat/room/mentions.js";

test("the name being typed after @, up to the caret", () => {
  assert.deepEqual(mentionQuery("hi @bo", 6), {text: "bo", start: 4});
  assert.deepEqual(mentionQuery("@", 1), {text: "", start: 1});
  assert.deepEqual(mentionQuery("hi @bob there", 7), {text: "bob", start: 4});
  assert.equal(mentionQuery("hi @bob there", 13), null);
  assert.equal(mentionQuery("mail bob@exa", 12), null); // an address, not a mention
});

test("names offered: by prefix in any case, once, sorted, not the viewer's, at most 8", () => {
  const names = ["carol", "Bob", "bobby", "bob", "alice", "Bob"];
  assert.deepEqual(matchingNames(names, "BO", "bob"), ["Bob", "bobby"]);
  assert.deepEqual(matchingNames(names, "", null), ["alice", "bob", "Bob", "bobby", "carol"]);
  const many = Array.from({length: 20}, (_, i) => "user" + String(i).padStart(2, "0"));
  assert.equal(matchingNames(many, "u", null).length, 8);
});
