import assert from "node:assert/strict";
import {test} from "node:test";

import {quoteStore} from "../../../../static/chat/room/quotes.js";
import {quoteLine} from "../../../../static/chat/text.js";

const ann = {id: 1, username: "ann"};
const reply = (seq, text, deleted = false) => ({id: 7, seq, author: deleted ? null : ann, text, deleted});
const original = (seq, body) => ({id: 7, seq, author: ann, body});

test("a quote is the first line, cut to the limit in characters as the server counts them", () => {
  assert.equal(quoteLine("one\ntwo", 10), "one");
  assert.equal(quoteLine("abcdefghij", 10), "abcdefghij");
  assert.equal(quoteLine("abcdefghijk", 10), "abcdefghi…");
  // Code points, not UTF-16 units: an emoji counts once (Python's len).
  assert.equal(quoteLine("😀".repeat(11), 10), "😀".repeat(9) + "…");
});

test("a reply shows its quote as carried until the original is heard to change", () => {
  const store = quoteStore(120);
  assert.deepEqual(store.current(reply(3, "hello")), {id: 7, seq: 3, author: ann, text: "hello", deleted: false});
  assert.equal(store.noteMessage(original(5, "hello again\nand more")), true);
  assert.equal(store.current(reply(3, "hello")).text, "hello again");
  // An older read of the original (a page fetched before the edit) changes nothing.
  assert.equal(store.noteMessage(original(4, "hello")), false);
  assert.equal(store.current(reply(4, "hello")).text, "hello again");
  // A newer one carried by a reply wins.
  assert.equal(store.current(reply(9, "third")).text, "third");
});

test("a deletion is final, whatever older reads arrive after it", () => {
  const store = quoteStore(120);
  store.current(reply(3, "hello"));
  assert.equal(store.noteDeleted(7), true);
  assert.equal(store.noteDeleted(7), false);
  assert.equal(store.noteMessage(original(5, "edited")), false);
  assert.deepEqual(store.current(reply(5, "edited")), {id: 7, seq: Infinity, author: null, text: "", deleted: true});
});

test("a reply read after its original was pruned says so, whatever was seen before", () => {
  const store = quoteStore(120);
  store.noteMessage(original(5, "hello"));
  assert.equal(store.current(reply(0, "", true)).deleted, true);
});

test("a deletion of a message no quote shows is remembered for replies loaded later", () => {
  const store = quoteStore(120);
  assert.equal(store.noteDeleted(7), false);
  assert.equal(store.current(reply(3, "hello")).deleted, true);
});

test("a message no reply has quoted changes no quote, but is remembered for replies to it", () => {
  const store = quoteStore(120);
  assert.equal(store.noteMessage(original(5, "first\nsecond")), false);
  assert.equal(store.current(reply(3, "older text")).text, "first");
});
