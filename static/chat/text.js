/*
 * Chat text, built as DOM nodes (never innerHTML): links for http(s) URLs, highlighted
 * @mentions (the viewer's own more strongly), and dates in the viewer's zone and locale.
 */
(function () {
  "use strict";

  // A URL runs to whitespace; trailing punctuation is the sentence's, not the link's.
  const TOKEN = /(https?:\/\/[^\s<>"]+)|(?<![\p{L}\p{N}_@.+-])@([\p{L}\p{N}_.@+-]+)/giu;
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
    } catch (error) {
      return null;
    }
  }

  function render(body, me) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of body.matchAll(TOKEN)) {
      let text = match[0];
      let node = null;
      if (match[1]) {
        text = trimUrl(text);
        const href = safeHref(text);
        if (href) {
          node = document.createElement("a");
          node.href = href;
          node.rel = "noopener nofollow ugc";
          node.target = "_blank";
          node.textContent = text;
        }
      } else {
        const name = match[2].replace(/\.+$/u, "");
        text = "@" + name;
        node = document.createElement("span");
        node.className = "mention";
        if (me && name.toLowerCase() === me.username.toLowerCase()) node.classList.add("me");
        node.textContent = text;
      }
      if (!node) continue;
      if (match.index > last) fragment.append(body.slice(last, match.index));
      fragment.append(node);
      last = match.index + text.length;
    }
    if (last < body.length) fragment.append(body.slice(last));
    return fragment;
  }

  function dayKey(date) {
    return date.getFullYear() + "-" + date.getMonth() + "-" + date.getDate();
  }

  function dayLabel(date, now) {
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

  function timeLabel(date) {
    return date.toLocaleTimeString([], {hour: "numeric", minute: "2-digit"});
  }

  function fullLabel(date) {
    return date.toLocaleString([], {dateStyle: "full", timeStyle: "short"});
  }

  window.ChatText = {render, dayKey, dayLabel, timeLabel, fullLabel};
})();
