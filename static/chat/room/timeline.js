/*
 * The list of messages shown: kept in id order whatever order frames arrive in, with
 * day separators, one author's messages grouped, the "New" divider, the "N new
 * messages" pill while the reader is scrolled up, and the rows for older and newer
 * pages. Reading around a linked message leaves a gap below (newer ones not loaded).
 */
import * as ChatText from "../text.js";
import {renderMessage} from "./message_view.js";
import {noteMessage} from "./replies.js";
import {isMine, viewer} from "./viewer.js";

const GROUP_MS = 5 * 60 * 1000; // one author's messages this close are shown as a group
const NEAR_BOTTOM_PX = 80;
const NEAR_TOP_PX = 300; // older messages load as the reader comes this close to the top

const $ = (id) => document.getElementById(id);
export const list = $("messages");
const startRow = $("room-start");
const olderRow = $("older-row");
const newerRow = $("newer-row");
const pill = $("new-pill");
const emptyNote = $("room-empty");

const shown = new Map(); // message id -> {li, message}
const authors = new Set(); // names seen on messages: offered after "@"
let dividerBefore = null; // id of the first unread message when the page opened

let gapBelow = false; // showing older messages around a link: newer ones not loaded
let missedBelow = 0; // live messages not shown while gapBelow, or while scrolled up

export const has = (id) => shown.has(id);
export const size = () => shown.size;
export const ids = () => [...shown.keys()];
export const entries = () => shown.entries();
export const authorNames = () => authors;
export const isGapBelow = () => gapBelow;
// Messages not shown below: counted in the title's unread while they are not loaded.
export const missedCount = () => missedBelow;

// Every stored message goes through here: a newer version (an edit, a reaction)
// replaces the one shown; an older or equal one is dropped. True if it was new here.
export function upsert(message) {
  authors.add(message.author.username);
  noteMessage(message); // replies to it quote it as it is now
  const entry = shown.get(message.id);
  if (entry) {
    if (Number(entry.li.dataset.seq) >= message.seq) return false;
    const li = renderMessage(message);
    if (entry.li.classList.contains("highlight")) li.classList.add("highlight");
    entry.li.replaceWith(li);
    shown.set(message.id, {li, message});
    return false;
  }
  const li = renderMessage(message);
  shown.set(message.id, {li, message});
  // Keep id order whatever order frames arrive in (history pages, resume, live).
  let next = null;
  let nextId = Infinity;
  for (const [id, other] of shown) {
    if (id > message.id && id < nextId) {
      next = other.li;
      nextId = id;
    }
  }
  list.insertBefore(li, next || newerRow);
  return true;
}

export function remove(id) {
  const entry = shown.get(id);
  if (!entry) return;
  entry.li.remove();
  shown.delete(id);
}

export function clearAll() {
  for (const {li} of shown.values()) li.remove();
  shown.clear();
  relayout();
}

export function setDivider(id) {
  dividerBefore = id;
  relayout();
}

// Day separators, author groups and the "New" divider follow from the order shown.
export function relayout() {
  renderEmpty();
  for (const el of list.querySelectorAll(".day-separator, .new-divider")) el.remove();
  const now = Date.now();
  let previous = null;
  for (const li of list.querySelectorAll("li.message")) {
    const at = new Date(li.dataset.at);
    const newDay = !previous || ChatText.dayKey(at) !== ChatText.dayKey(previous.at);
    if (newDay) li.before(separatorRow("day-separator", ChatText.dayLabel(at, now)));
    if (dividerBefore !== null && Number(li.dataset.id) === dividerBefore) {
      const divider = separatorRow("new-divider", "New");
      divider.id = "new-divider";
      li.before(divider);
    }
    const grouped =
      previous &&
      !newDay &&
      previous.author === li.dataset.author &&
      at - previous.at < GROUP_MS &&
      Number(li.dataset.id) !== dividerBefore;
    li.classList.toggle("grouped", Boolean(grouped));
    previous = {author: li.dataset.author, at: at};
  }
}

function separatorRow(className, text) {
  const row = document.createElement("li");
  row.className = className;
  const label = document.createElement("span");
  label.textContent = text;
  row.append(label);
  return row;
}

export function nearTop() {
  return list.scrollTop < NEAR_TOP_PX;
}

export const hasOlder = () => !olderRow.hidden;

export function nearBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

export function scrollToBottom() {
  list.scrollTop = list.scrollHeight;
  missedBelow = 0;
  renderPill();
}

// Messages arriving live or on resume: follow them if the reader is at the bottom,
// otherwise count them on the pill.
export function addLive(messages) {
  const follow = nearBottom();
  // With the room's beginning loaded (or nothing), nothing is older than what is shown.
  const oldest = shown.size && hasOlder() ? Math.min(...shown.keys()) : 0;
  let added = 0;
  for (const message of messages) {
    if (gapBelow) {
      if (!shown.has(message.id) && !isMine(message)) missedBelow += 1;
      continue;
    }
    // A resume's change to a message older than those loaded (an edit of a reply's
    // original, say) is not shown out of place: its page brings it when loaded.
    if (message.id < oldest && !shown.has(message.id)) continue;
    if (upsert(message) && !isMine(message)) added += 1;
  }
  relayout();
  if (follow && !gapBelow) scrollToBottom();
  else missedBelow += added;
  renderPill();
}

// Older messages above: the reader's place stays where it was.
export function addAbove(messages) {
  const fromBottom = list.scrollHeight - list.scrollTop;
  for (const message of messages) upsert(message);
  relayout();
  list.scrollTop = list.scrollHeight - fromBottom;
}

function renderPill() {
  pill.hidden = missedBelow === 0;
  pill.textContent = missedBelow === 1 ? "1 new message ↓" : missedBelow + " new messages ↓";
}

// The reader scrolled: at the bottom (with nothing missing below), the pill goes.
export function scrolled() {
  if (nearBottom() && !gapBelow) {
    missedBelow = 0;
    renderPill();
  }
}

export function setOlder(hasMore) {
  olderRow.hidden = !hasMore;
  startRow.hidden = hasMore;
  renderEmpty();
}

export function setGapBelow(below) {
  gapBelow = below;
  newerRow.hidden = !below;
}

// The newest messages are loaded again: nothing is missing below.
export function closeGap() {
  setGapBelow(false);
  missedBelow = 0;
  renderPill();
}

function renderEmpty() {
  emptyNote.hidden = shown.size > 0;
}

// ``focus``: the reader asked for it here (a reply's quote): focus follows.
export function highlight(id, focus = false) {
  const entry = shown.get(id);
  if (!entry) return;
  for (const other of list.querySelectorAll(".message.highlight")) other.classList.remove("highlight");
  entry.li.classList.add("highlight");
  entry.li.scrollIntoView({block: "center"});
  if (focus) {
    entry.li.tabIndex = -1;
    entry.li.focus({preventScroll: true});
  }
}

// The newest message whose top is in view.
export function lastVisibleId() {
  const bottom = list.getBoundingClientRect().bottom;
  let last = 0;
  for (const [id, {li}] of shown) {
    if (li.getBoundingClientRect().top < bottom - 8 && id > last) last = id;
  }
  return last;
}

// Reactions and replies follow whether the viewer may post (logged in, not muted).
export function renderReactionsAllowed() {
  for (const button of list.querySelectorAll(".reaction, .reply-action")) {
    button.disabled = !viewer.me || viewer.muted;
  }
}

// Drawn again as the viewer now is (whom they block, what they may do): every message.
export function rerenderAll() {
  for (const [id, entry] of shown) {
    const li = renderMessage(entry.message);
    if (entry.li.classList.contains("highlight")) li.classList.add("highlight");
    entry.li.replaceWith(li);
    shown.set(id, {li, message: entry.message});
  }
  relayout();
}
