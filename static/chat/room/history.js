/*
 * What the page shows of the room's history: the first sync (opening at the first
 * unread message, fetching a few older pages to reach it, or at a linked message),
 * resumes after a reconnect, older and newer pages, and a linked message in its
 * context with the way back to the latest.
 */
import * as presence from "./presence.js";
import * as read from "./read_state.js";
import * as replies from "./replies.js";
import {refused, request, send, synced} from "./socket.js";
import * as timeline from "./timeline.js";
import {CLIENT} from "../../realtime/protocol.js";

const OPEN_PAGES = 4; // older pages fetched on open to reach the first unread message
const LATEST = Number.MAX_SAFE_INTEGER; // "history before this" is the latest page

const contextNote = document.getElementById("context-note");
let firstSync = true;
let openPagesLeft = 0;
let olderLoading = false; // one older page at a time, however fast the reader scrolls
let focusLinked = false; // the linked message takes focus when it is shown

export const opened = () => !firstSync;

// After the viewer's part of the sync (viewer.js) is in place.
export function onSync(frame) {
  synced(frame.cursor);
  if (frame.mode === "reset") {
    timeline.clearAll();
    timeline.setGapBelow(false);
  }
  if (firstSync) {
    firstSync = false;
    read.setLastRead(frame.last_read_id);
    for (const message of frame.messages) timeline.upsert(message);
    if (frame.has_more !== undefined) timeline.setOlder(frame.has_more);
    presence.setOnline(frame.online, frame.online_count);
    // The first unread may be further back than one page: fetch a few more before
    // placing the divider, so it never shows in the wrong place first.
    const oldest = Math.min(...timeline.ids());
    const lastRead = read.lastRead();
    if (lastRead !== null && frame.has_more && lastRead < oldest - 1) {
      openPagesLeft = OPEN_PAGES;
      send({type: CLIENT.HISTORY, before_id: oldest});
      return;
    }
    openAtUnread();
    return;
  }
  for (const id of frame.deleted) timeline.remove(id);
  // Changes to messages not shown (around a link, older ones) still reach the quotes
  // of replies to them.
  replies.noteDeleted(frame.deleted);
  for (const message of frame.messages) replies.noteMessage(message);
  timeline.addLive(frame.messages);
  read.noteRead();
  if (frame.has_more !== undefined && frame.mode !== "resume") timeline.setOlder(frame.has_more);
  presence.setOnline(frame.online, frame.online_count);
}

export function onHistory(frame) {
  timeline.addAbove(frame.messages);
  timeline.setOlder(frame.has_more);
  if (openPagesLeft > 0) continueOpening(frame.has_more);
}

export function onNewer(frame) {
  for (const message of frame.messages) timeline.upsert(message);
  timeline.relayout();
  if (!frame.has_more) closeGap();
}

function continueOpening(hasMore) {
  openPagesLeft -= 1;
  const oldest = Math.min(...timeline.ids());
  if (hasMore && openPagesLeft > 0 && read.lastRead() < oldest - 1) {
    send({type: CLIENT.HISTORY, before_id: oldest});
    return;
  }
  openPagesLeft = 0;
  openAtUnread();
}

function openAtUnread() {
  read.placeDivider();
  if (showLinked()) return;
  read.openAtUnread();
}

// A link to one message (#m<id>, from a mention, a search or a reply's quote): show it
// in context. ``focus``: the reader followed it on this page (focus goes to it).
export function showLinked(focus = false) {
  const match = /^#m(\d+)$/.exec(location.hash);
  if (!match) return false;
  const id = Number(match[1]);
  if (timeline.has(id)) {
    timeline.highlight(id, focus);
    return true;
  }
  focusLinked = focus;
  send({type: CLIENT.CONTEXT, id: id});
  return true;
}

export function onContext(frame) {
  if (!frame.found) {
    contextNote.textContent =
      "The message you followed a link to is no longer here: it was deleted, or the room no longer keeps messages that old.";
    contextNote.hidden = false;
    read.openAtUnread();
    return;
  }
  timeline.clearAll();
  for (const message of frame.messages) timeline.upsert(message);
  timeline.setOlder(frame.has_older);
  timeline.setGapBelow(frame.has_newer);
  timeline.relayout();
  timeline.highlight(frame.id, focusLinked);
  focusLinked = false;
  if (frame.has_newer) {
    contextNote.textContent = "You are reading older messages.";
    const jump = document.createElement("button");
    jump.type = "button";
    jump.className = "link";
    jump.textContent = "Jump to the latest";
    jump.addEventListener("click", jumpToLatest);
    contextNote.append(" ", jump);
    contextNote.hidden = false;
  }
}

function closeGap() {
  timeline.closeGap();
  contextNote.hidden = true;
}

export function jumpToLatest() {
  timeline.clearAll();
  closeGap();
  history.replaceState(null, "", location.pathname + location.search);
  // The reply is shown (as any history page) before the page scrolls to its end.
  request({type: CLIENT.HISTORY, before_id: LATEST}).then(() => timeline.scrollToBottom(), refused);
}

export function loadOlder() {
  const ids = timeline.ids();
  if (!ids.length || olderLoading) return;
  olderLoading = true;
  const done = () => (olderLoading = false);
  request({type: CLIENT.HISTORY, before_id: Math.min(...ids)}).then(done, (error) => {
    done();
    refused(error);
  });
}

// The reader scrolled near the top: the older page comes without a click (the button
// stays, for keyboards). Not while the page is still opening at the first unread.
export function scrolledNearTop() {
  if (!firstSync && openPagesLeft === 0 && timeline.nearTop() && timeline.hasOlder()) loadOlder();
}

export function loadNewer() {
  const ids = timeline.ids();
  if (ids.length) send({type: CLIENT.NEWER, after_id: Math.max(...ids)});
}
