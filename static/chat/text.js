/*
 * Chat text, built as DOM nodes (never innerHTML): links for http(s) URLs and for
 * addresses starting "www." (as https, the way people type them), highlighted
 * @mentions (the viewer's own more strongly), and dates in the viewer's zone and locale.
 *
 * tokens() is pure (the unit tests read it); render() turns its pieces into nodes, the
 * user's text always as text nodes.
 */

// A URL runs to whitespace; trailing punctuation is the sentence's, not the link's.
// "www." starts one only at a word's start, and only with a dot after its next label.
const TOKEN =
  /(https?:\/\/[^\s<>"]+|(?<![\p{L}\p{N}_@./:+-])www\.[\p{L}\p{N}-]+\.[^\s<>"]+)|(?<![\p{L}\p{N}_@.+-])@([\p{L}\p{N}_.@+-]+)/giu;
const TRAILING = /[.,;:!?'"»”’]+$/u;

function trimUrl(url) {
  let trimmed = url.replace(TRAILING, "");
  // "(see https://x.org/a)" keeps its ")" outside; "wiki/Foo_(bar)" keeps its own.
  while (trimmed.endsWith(")") && count(trimmed, "(") < count(trimmed, ")")) {
    trimmed = trimmed.slice(0, -1).replace(TRAILING, "");
  }
  return trimmed;
}

function count(text, char) {
  return text.split(char).length - 1;
}

function safeHref(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * A message body in pieces, in order: {kind: "text", text}, {kind: "link", text, href}
 * or {kind: "mention", text, name, me} (``me``: it names the viewer, ``viewer`` being
 * {username} or null). Joined, the pieces' texts are the body.
 */
export function tokens(body, viewer) {
  const pieces = [];
  let last = 0;
  for (const match of body.matchAll(TOKEN)) {
    let text = match[0];
    let piece = null;
    if (match[1]) {
      text = trimUrl(text);
      const href = safeHref(/^www\./i.test(text) ? "https://" + text : text);
      if (href) piece = {kind: "link", text, href};
    } else {
      const name = match[2].replace(/\.+$/u, "");
      text = "@" + name;
      const me = Boolean(viewer) && name.toLowerCase() === viewer.username.toLowerCase();
      piece = {kind: "mention", text, name, me};
    }
    if (!piece) continue;
    if (match.index > last) pieces.push({kind: "text", text: body.slice(last, match.index)});
    pieces.push(piece);
    last = match.index + text.length;
  }
  if (last < body.length) pieces.push({kind: "text", text: body.slice(last)});
  return pieces;
}

export function render(body, viewer) {
  const fragment = document.createDocumentFragment();
  for (const piece of tokens(body, viewer)) {
    if (piece.kind === "link") {
      const link = document.createElement("a");
      link.href = piece.href;
      link.rel = "noopener nofollow ugc";
      link.target = "_blank";
      link.textContent = piece.text;
      fragment.append(link);
    } else if (piece.kind === "mention") {
      const mention = document.createElement("span");
      mention.className = "mention";
      if (piece.me) mention.classList.add("me");
      mention.textContent = piece.text;
      fragment.append(mention);
    } else {
      fragment.append(piece.text); // a string: appended as a text node
    }
  }
  return fragment;
}

/** What a reply shows of its original: the first line, at most ``max`` characters (the
 * last one then "…"), counted as the server counts them (code points: chat/protocol.py
 * quote_line cuts the same way). */
export function quoteLine(body, max) {
  const line = [...body.split("\n", 1)[0]];
  return line.length > max ? line.slice(0, max - 1).join("") + "…" : line.join("");
}

export function dayKey(date) {
  return date.getFullYear() + "-" + date.getMonth() + "-" + date.getDate();
}

export function dayLabel(date, now) {
  const today = new Date(now);
  const yesterday = new Date(now);
  yesterday.setDate(today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return "Today";
  if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
  const sameYear = date.getFullYear() === today.getFullYear();
  return date.toLocaleDateString([], {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: sameYear ? undefined : "numeric",
  });
}

export function timeLabel(date) {
  return date.toLocaleTimeString([], {hour: "numeric", minute: "2-digit"});
}

export function fullLabel(date) {
  return date.toLocaleString([], {dateStyle: "full", timeStyle: "short"});
}
