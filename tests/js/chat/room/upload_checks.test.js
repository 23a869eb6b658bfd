import assert from "node:assert/strict";
import {describe, test} from "node:test";

import {fileSize, refusal} from "../../../../static/chat/room/upload_checks.js";

const limits = {
  maxBytes: 10_000_000,
  limitText: "10 MB",
  types: ["image/png", "text/plain"],
  typesText: "PNG and text files",
  maxFiles: 2,
};

describe("fileSize", () => {
  test("reads as the server writes it", () => {
    assert.equal(fileSize(1), "1 byte");
    assert.equal(fileSize(999), "999 bytes");
    assert.equal(fileSize(1000), "1 KB");
    assert.equal(fileSize(1450), "1.4 KB");
    assert.equal(fileSize(820_000), "820 KB");
    assert.equal(fileSize(10_000_000), "10 MB");
    assert.equal(fileSize(2_500_000_000), "2.5 GB");
  });
});

describe("refusal", () => {
  test("a file within the limits may go", () => {
    assert.equal(refusal({name: "a.png", size: 10, type: "image/png"}, limits, 0), null);
    // A type the browser does not know: the server decides.
    assert.equal(refusal({name: "a.log", size: 10, type: ""}, limits, 0), null);
  });

  test("too big, empty, a type not allowed, too many: a plain sentence", () => {
    assert.equal(
      refusal({name: "big.png", size: 10_000_001, type: "image/png"}, limits, 0),
      "“big.png” is too big. The limit is 10 MB.",
    );
    assert.equal(refusal({name: "e.txt", size: 0, type: "text/plain"}, limits, 0), "“e.txt” is empty.");
    assert.equal(
      refusal({name: "d.svg", size: 5, type: "image/svg+xml"}, limits, 0),
      "“d.svg” cannot be shared here. You can share PNG and text files.",
    );
    assert.equal(
      refusal({name: "a.png", size: 5, type: "image/png"}, limits, 2),
      "A message can have at most 2 files.",
    );
  });
});
