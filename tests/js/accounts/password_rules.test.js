import assert from "node:assert/strict";
import {describe, test} from "node:test";

import {
  checkPassword,
  confirmationState,
  quickRatio,
  tooLikeUsername,
} from "../../../static/accounts/password_rules.js";

const RULES = [
  {rule: "similar", maxSimilarity: 0.7},
  {rule: "length", min: 8},
  {rule: "common"},
  {rule: "numeric"},
];

describe("password rules", () => {
  test("nothing typed: no rule is judged yet", () => {
    assert.deepEqual(checkPassword("", "carol", RULES), {
      similar: null,
      length: null,
      common: null,
      numeric: null,
    });
  });

  test("a short password like the name fails both rules at once", () => {
    assert.deepEqual(checkPassword("carol12", "carol", RULES), {
      similar: false,
      length: false,
      common: null, // the server's list: checked on submit
      numeric: true,
    });
  });

  test("a good password meets every rule the page can check", () => {
    assert.deepEqual(checkPassword("a-long-enough-secret-9", "carol", RULES), {
      similar: true,
      length: true,
      common: null,
      numeric: true,
    });
  });

  test("digits only, in any script", () => {
    assert.equal(checkPassword("12345678901", "carol", RULES).numeric, false);
    assert.equal(checkPassword("١٢٣٤٥٦٧٨٩", "carol", RULES).numeric, false);
    assert.equal(checkPassword("1234567a", "carol", RULES).numeric, true);
  });

  test("length counts characters as Python does, not UTF-16 units", () => {
    const rules = [{rule: "length", min: 8}];
    assert.equal(checkPassword("😀😀😀😀", "", rules).length, false); // 8 units, 4 characters
    assert.equal(checkPassword("😀😀😀😀😀😀😀😀", "", rules).length, true);
  });
});

describe("similarity, as Django's UserAttributeSimilarityValidator", () => {
  test("quick_ratio as difflib's", () => {
    assert.equal(quickRatio("abcd", "bcde"), 0.75); // python: SequenceMatcher(a=..., b=...).quick_ratio()
    assert.equal(quickRatio("aab", "ab"), 0.8);
    assert.equal(quickRatio("", ""), 1);
  });

  test("the name, a word of it, and case", () => {
    assert.equal(tooLikeUsername("Carol.Smith", "carol.smith"), true);
    assert.equal(tooLikeUsername("smith2024", "carol.smith"), true);
    assert.equal(tooLikeUsername("purple-harbour-lamp", "carol.smith"), false);
  });

  test("a much longer password is not like a short name", () => {
    // Django skips a part at most a tenth of the password's length.
    assert.equal(tooLikeUsername("abcdefghijklmnopqrstuvwxyz", "ab"), false);
  });

  test("the threshold comes from the page", () => {
    assert.equal(tooLikeUsername("carolxyz", "carol", 0.7), true);
    assert.equal(tooLikeUsername("carolxyz", "carol", 0.9), false);
  });
});

describe("the confirmation", () => {
  test("says nothing while it is still the start of the password", () => {
    assert.equal(confirmationState("secret-one", ""), "empty");
    assert.equal(confirmationState("secret-one", "secr"), "typing");
    assert.equal(confirmationState("secret-one", "secret-one"), "match");
    assert.equal(confirmationState("secret-one", "secret-two"), "mismatch");
    assert.equal(confirmationState("secret-one", "secret-one!"), "mismatch");
  });
});
