import assert from "node:assert/strict";
import {beforeEach, describe, test} from "node:test";

import {dayKey, dayLabel, render, tokens} from "../../../static/chat/text.js";
import {fakeDocument} from "../support/dom.js";

const bob = {username: "Bob"};
const texts = (pieces) => pieces.map((piece) => piece.text).join("");

describe("tokens", () => {
  test("plain text is one text piece, markup and all", () => {
    assert.deepEqual(tokens("hello <b>world</b> & 'you'", null), [
      {kind: "text", text: "hello <b>world</b> & 'you'"},
    ]);
  });

  test("the pieces always add up to the body", () => {
    for (const body of [
      "see https://example.org/a_(b). and @bob",
      "(see https://x.org/a) @@bob a@b.com @bob... https://",
      "",
      "https://a.b/c?d=e&f=<g>",
    ]) {
      assert.equal(texts(tokens(body, bob)), body);
    }
  });

  test("http and https URLs are links; trailing punctuation is the sentence's", () => {
    assert.deepEqual(tokens("go to https://example.org/a, now", null), [
      {kind: "text", text: "go to "},
      {kind: "link", text: "https://example.org/a", href: "https://example.org/a"},
      {kind: "text", text: ", now"},
    ]);
    const wiki = tokens("(see https://en.wikipedia.org/wiki/Foo_(bar))", null);
    assert.equal(wiki[1].text, "https://en.wikipedia.org/wiki/Foo_(bar)");
    assert.equal(wiki[2].text, ")");
  });

  test("an address starting www. is a link to its https page", () => {
    assert.deepEqual(tokens("see www.example.org.", null), [
      {kind: "text", text: "see "},
      {kind: "link", text: "www.example.org", href: "https://www.example.org/"},
      {kind: "text", text: "."},
    ]);
    assert.equal(tokens("WWW.Example.org/a?b=1", null)[0].href, "https://www.example.org/a?b=1");
  });

  test("www. inside a word, alone, or in another link is not a second link", () => {
    for (const body of ["awww.example.org", "www.", "www.localhost", "x@www.example.org"]) {
      assert.ok(tokens(body, null).every((piece) => piece.kind !== "link"), body);
    }
    const pieces = tokens("https://www.example.org/www.x.org", null);
    assert.deepEqual(pieces, [
      {kind: "link", text: "https://www.example.org/www.x.org", href: "https://www.example.org/www.x.org"},
    ]);
  });

  test("a URL stops at a quote or an angle bracket", () => {
    const pieces = tokens('https://x.org/"><script>alert(1)</script>', null);
    assert.deepEqual(pieces[0], {kind: "link", text: "https://x.org/", href: "https://x.org/"});
    assert.deepEqual(pieces.slice(1), [{kind: "text", text: '"><script>alert(1)</script>'}]);
  });

  test("other schemes are never links", () => {
    for (const body of ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://x.org/"]) {
      assert.deepEqual(tokens(body, null), [{kind: "text", text: body}], body);
    }
  });

  test("mentions, the viewer's own marked whatever its case; addresses are not mentions", () => {
    assert.deepEqual(tokens("hi @bob and @carol.", bob), [
      {kind: "text", text: "hi "},
      {kind: "mention", text: "@bob", name: "bob", me: true},
      {kind: "text", text: " and "},
      {kind: "mention", text: "@carol", name: "carol", me: false},
      {kind: "text", text: "."},
    ]);
    assert.deepEqual(tokens("mail bob@example.org", bob), [{kind: "text", text: "mail bob@example.org"}]);
    assert.equal(tokens("@bob", null)[0].me, false); // a visitor is nobody
  });
});

describe("render", () => {
  let doc;
  beforeEach(() => {
    doc = fakeDocument();
    globalThis.document = doc;
  });

  test("user text is text: markup in it makes no element", () => {
    const body = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    const fragment = render(body, bob);
    assert.deepEqual(fragment.children, [{text: body}]);
    assert.deepEqual(doc.created, []);
  });

  test("a link is an anchor that opens apart and passes no credit", () => {
    const [link, rest] = render("https://example.org/?q=<b> ok", null).children;
    assert.equal(link.tagName, "a");
    assert.equal(link.href, "https://example.org/?q=");
    assert.equal(link.textContent, "https://example.org/?q=");
    assert.equal(link.rel, "noopener nofollow ugc");
    assert.equal(link.target, "_blank");
    assert.deepEqual(rest, {text: "<b> ok"});
  });

  test("mentions are spans, the viewer's own with 'me'", () => {
    const [mine, , theirs] = render("@bob @carol", bob).children;
    assert.equal(mine.tagName, "span");
    assert.equal(mine.className, "mention me");
    assert.equal(mine.textContent, "@bob");
    assert.equal(theirs.className, "mention");
  });
});

describe("days", () => {
  test("today, yesterday, and a day's key", () => {
    const now = new Date(2026, 11, 7, 10, 0);
    assert.equal(dayLabel(new Date(2026, 11, 7, 0, 1), now), "Today");
    assert.equal(dayLabel(new Date(2026, 11, 6, 23, 59), now), "Yesterday");
    assert.notEqual(dayLabel(new Date(2026, 11, 5), now), "Yesterday");
    assert.equal(dayKey(new Date(2026, 0, 31, 23)), dayKey(new Date(2026, 0, 31, 1)));
    assert.notEqual(dayKey(new Date(2026, 0, 31)), dayKey(new Date(2026, 1, 1)));
  });
});
