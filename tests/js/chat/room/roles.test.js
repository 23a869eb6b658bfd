import assert from "node:assert/strict";
import {test} from "node:test";

import {manages, ordered} from "../../../../static/chat/room/roles.js";

test("members are listed owners first, then moderators, then by name", () => {
  const members = [
    {username: "zoe", role: "member"},
    {username: "bob", role: "moderator"},
    {username: "amy", role: "member"},
    {username: "yan", role: "owner"},
  ];
  assert.deepEqual(
    ordered(members).map((m) => m.username),
    ["yan", "bob", "amy", "zoe"],
  );
});

test("owners and moderators manage a room; members and outsiders do not", () => {
  assert.equal(manages("owner"), true);
  assert.equal(manages("moderator"), true);
  assert.equal(manages("member"), false);
  assert.equal(manages(null), false);
});
