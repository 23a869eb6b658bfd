/*
 * What the reader has read: the newest message seen while the page is visible moves
 * their read cursor (reported to the server, batched), the tab's title counts what is
 * unread, and the "New" divider sits before the first unread message on opening.
 */
import {send} from "./socket.js";
import * as timeline from "./timeline.js";
import {isMine, viewer} from "./viewer.js";
import {CLIENT} from "../../realtime/protocol.js";

// A read is reported after a second without new messages, and at least every five
// while they keep coming: a busy room of 1,000 readers sends 200 reads a second, not
// one per reader per message.
const READ_QUIET_MS = 1000;
const READ_MAX_WAIT_MS = 5000;
const baseTitle = document.title;

let lastReadId = null; // the server's read cursor for this user, as last heard
let readSent = 0; // the newest id this page has reported read
let readTimer = null;
let readDue = 0; // when the pending read goes at the latest

export const lastRead = () => lastReadId;

// The server's cursor: as of a socket's first sync (null for a visitor), then moved by
// "read" frames (from this tab or the user's others).
export function setLastRead(id) {
  lastReadId = id;
}

export function heardRead(id) {
  lastReadId = Math.max(lastReadId || 0, id);
  renderTitle();
}

// What the reader has seen moves the read cursor: only while the page is visible.
export function noteRead() {
  if (!viewer.me || document.visibilityState !== "visible") {
    renderTitle();
    return;
  }
  const seen = timeline.lastVisibleId();
  if (seen > readSent && (lastReadId === null || seen > lastReadId)) {
    readSent = seen;
    const now = Date.now();
    // Jittered: the readers of one message do not all report at the same instant.
    if (readTimer === null) readDue = now + READ_MAX_WAIT_MS * (0.6 + 0.8 * Math.random());
    clearTimeout(readTimer);
    readTimer = setTimeout(sendRead, Math.max(0, Math.min(READ_QUIET_MS, readDue - now)));
  }
  renderTitle();
}

// A read waiting for its batch goes now (the page is hidden or going away).
export function flushRead() {
  if (readTimer !== null) sendRead();
}

function sendRead() {
  clearTimeout(readTimer);
  readTimer = null;
  // Not connected: report it again at the next chance.
  if (!send({type: CLIENT.READ, id: readSent})) readSent = 0;
}

function unreadCount() {
  const read = Math.max(readSent, lastReadId || 0);
  let count = 0;
  for (const [id, {message}] of timeline.entries()) if (id > read && !isMine(message)) count += 1;
  return count + (timeline.isGapBelow() ? timeline.missedCount() : 0);
}

export function renderTitle() {
  const unread = viewer.me ? unreadCount() : 0;
  document.title = unread > 0 ? "(" + unread + ") " + baseTitle : baseTitle;
}

export function placeDivider() {
  if (lastReadId === null) return;
  let first = null;
  for (const [id, {message}] of timeline.entries()) {
    if (id > lastReadId && !isMine(message) && (first === null || id < first)) first = id;
  }
  timeline.setDivider(first);
}

// Opening the room: at the first unread message, or at the end.
export function openAtUnread() {
  const divider = document.getElementById("new-divider");
  if (divider) divider.scrollIntoView({block: "start"});
  else timeline.scrollToBottom();
  noteRead();
}
