import assert from "node:assert/strict";
import {test} from "node:test";

import {Disconnected, PendingRequests} from "../../../static/realtime/requests.js";
import {LIMITS} from "../../../static/realtime/protocol.js";

test("each request has its own ref, short enough for the server", () => {
  const requests = new PendingRequests();
  const refs = new Set();
  for (let i = 0; i < 1000; i++) refs.add(requests.add().ref);
  assert.equal(refs.size, 1000);
  for (const ref of refs) assert.ok(ref.length <= LIMITS.REF_MAX_LENGTH);
});

test("a reply is taken once; a frame without a known ref is nobody's", () => {
  const requests = new PendingRequests();
  const {ref} = requests.add();
  assert.equal(requests.take({type: "ack"}), null);
  assert.equal(requests.take({type: "ack", ref: "other"}), null);
  assert.notEqual(requests.take({type: "ack", ref}), null);
  assert.equal(requests.take({type: "ack", ref}), null);
});

test("failAll rejects every request still waiting", async () => {
  const requests = new PendingRequests();
  const replies = [requests.add().reply, requests.add().reply];
  requests.failAll(new Disconnected(true));
  for (const reply of replies) await assert.rejects(reply, Disconnected);
  assert.equal(requests.size, 0);
});
