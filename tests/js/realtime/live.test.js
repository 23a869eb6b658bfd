import assert from "node:assert/strict";
import {beforeEach, describe, test} from "node:test";

import {Disconnected, ServerError, connect} from "../../../static/realtime/live.js";
import {CLOSE} from "../../../static/realtime/protocol.js";
import {FakeWebSocket, installBrowser, retryButton} from "../support/browser.js";

function openSocket() {
  const frames = [];
  const live = connect("/ws/chat/general/", {onFrame: (frame) => frames.push(frame)});
  const ws = FakeWebSocket.made.at(-1);
  ws.accept();
  return {live, ws, frames};
}

describe("live.request", () => {
  beforeEach(installBrowser);

  test("sends the frame with a new ref and resolves with the reply carrying it", async () => {
    const {live, ws, frames} = openSocket();
    const first = live.request({type: "history", before_id: 10});
    const second = live.request({type: "message.delete", id: 3});
    const [one, two] = ws.sent;
    assert.equal(one.type, "history");
    assert.equal(one.before_id, 10);
    assert.notEqual(one.ref, two.ref);
    ws.receive({type: "ack", ref: two.ref});
    ws.receive({type: "history", messages: [], has_more: false, ref: one.ref});
    assert.deepEqual(await second, {type: "ack", ref: two.ref});
    assert.equal((await first).type, "history");
    // The page's handler sees the replies too (a history page is shown, as any).
    assert.deepEqual(frames.map((f) => f.type), ["ack", "history"]);
  });

  test("a frame with another ref, or none, settles nothing", async () => {
    const {live, ws} = openSocket();
    let settled = false;
    live.request({type: "typing"}).finally(() => (settled = true));
    const ref = ws.sent[0].ref;
    ws.receive({type: "ack", ref: ref + "x"});
    ws.receive({type: "ack"});
    await Promise.resolve();
    assert.equal(settled, false);
    assert.equal(live.requests.size, 1);
  });

  test("rejects with the server's error frame for its ref, which the page does not get", async () => {
    const {live, ws, frames} = openSocket();
    const reply = live.request({type: "message.edit", id: 1, body: "x"});
    const error = {type: "error", code: "forbidden", message: "the edit window is over", ref: ws.sent[0].ref};
    ws.receive(error);
    await assert.rejects(reply, (thrown) => {
      assert.ok(thrown instanceof ServerError);
      assert.equal(thrown.code, "forbidden");
      assert.equal(thrown.message, "the edit window is over");
      assert.deepEqual(thrown.frame, error);
      return true;
    });
    assert.deepEqual(frames, []);
    // An error that answers no request still goes to the page.
    ws.receive({type: "error", code: "bad_json", message: "frame is not valid JSON"});
    assert.equal(frames.length, 1);
  });

  test("rejects when the connection drops before the reply", async () => {
    const {live, ws} = openSocket();
    const reply = live.request({type: "reaction.toggle", id: 1, emoji: "👍"});
    ws.drop(1006);
    await assert.rejects(reply, (thrown) => thrown instanceof Disconnected && thrown.sent === true);
    assert.equal(live.requests.size, 0);
  });

  test("rejects on a close for good too", async () => {
    const {live, ws} = openSocket();
    const reply = live.request({type: "message.delete", id: 1});
    ws.drop(CLOSE.NOT_FOUND);
    await assert.rejects(reply, Disconnected);
  });

  test("is not sent while not connected, nor after the server said it is closing", async () => {
    const {live, ws} = openSocket();
    ws.receive({type: "closing", reason: "restart"});
    await assert.rejects(live.request({type: "message.delete", id: 1}), (thrown) => thrown.sent === false);
    assert.deepEqual(ws.sent, []);
    const waiting = connect("/ws/chat/other/", {});
    await assert.rejects(waiting.request({type: "typing"}), Disconnected);
  });
});

describe("the resume cursor", () => {
  beforeEach(installBrowser);

  // (Which change it stops at when one is missing: cursor.test.js.)
  test("goes in the reconnect's URL", () => {
    const {live, ws} = openSocket();
    assert.equal(ws.url, "ws://site.test/ws/chat/general/");
    live.synced(1);
    live.seenInOrder(2);
    ws.drop(CLOSE.SERVER_ERROR); // retried
    live.open(); // what the reconnect's timer does
    assert.equal(FakeWebSocket.made.at(-1).url, "ws://site.test/ws/chat/general/?after_id=2");
  });
});

describe("reconnecting", () => {
  beforeEach(installBrowser);

  test("the page hears each state, and Retry now opens a new socket at once", () => {
    const states = [];
    const live = connect("/ws/chat/retry/", {onState: (state) => states.push(state)});
    const first = FakeWebSocket.made.at(-1);
    first.accept();
    first.drop(1006);
    assert.deepEqual(states, ["connected", "reconnecting"]);
    assert.equal(live.waiting, true);
    assert.equal(retryButton.hidden, false);
    retryButton.listeners.click();
    const again = FakeWebSocket.made.at(-1);
    assert.notEqual(again, first);
    assert.equal(again.url, "ws://site.test/ws/chat/retry/");
    again.accept();
    assert.equal(states.at(-1), "connected");
    assert.equal(live.waiting, false);
  });
});
