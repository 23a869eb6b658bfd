/*
 * A chat room page: history by day, live messages, edits, deletions, reactions, read
 * state, presence, typing, and a composer that never throws text away.
 */
import {Disconnected, connect} from "../realtime/live.js";
import * as ChatText from "./text.js";

const config = JSON.parse(document.getElementById("chat-config").textContent);
const $ = (id) => document.getElementById(id);
const list = $("messages");
const startRow = $("room-start");
const olderRow = $("older-row");
const newerRow = $("newer-row");
const pill = $("new-pill");
const contextNote = $("context-note");
const typingLine = $("typing");
const errorLine = $("chat-error");
const onlineList = $("online");
const onlineCount = $("online-count");
const onlineToggleCount = $("online-toggle-count");
const composer = $("composer");
const input = $("composer-body");
const sendButton = $("composer-send");
const status = $("composer-status");
const counter = $("composer-count");
const mentionList = $("mention-list");

const GROUP_MS = 5 * 60 * 1000; // one author's messages this close are shown as a group
const NEAR_BOTTOM_PX = 80;
// A read is reported after a second without new messages, and at least every five
// while they keep coming: a busy room of 1,000 readers sends 200 reads a second, not
// one per reader per message.
const READ_QUIET_MS = 1000;
const READ_MAX_WAIT_MS = 5000;
const SEND_PATIENCE_MS = 8000;
const OPEN_PAGES = 4; // older pages fetched on open to reach the first unread message
const LATEST = Number.MAX_SAFE_INTEGER; // "history before this" is the latest page
const baseTitle = document.title;

const shown = new Map(); // message id -> {li, message}
const online = new Map(); // user id -> username (large rooms list only some)
const authors = new Map(); // username -> true: names offered after "@"
const typing = new Map(); // username -> timer
let onlineTotal = 0;
let me = null;
let limits = {max_length: config.maxLength, typing_timeout_ms: 5000, edit_window_s: 0, reactions: []};
let muted = false;
let lastTypingSent = 0;
let errorTimer = null;
let firstSync = true;
let lastReadId = null; // the server's read cursor for this user, as last heard
let readSent = 0; // the newest id this page has reported read
let readTimer = null;
let readDue = 0; // when the pending read goes at the latest
let dividerBefore = null; // id of the first unread message when the page opened
let openPagesLeft = 0;
let gapBelow = false; // showing older messages around a link: newer ones not loaded
let missedBelow = 0; // live messages not shown while gapBelow, or while scrolled up
let pending = null; // {nonce, body, timer}: the message being sent

const live = connect("/ws/chat/" + config.slug + "/", {
  onFrame: handleFrame,
  onClosed: closed,
  onOpen: resendPending,
});

// ------------------------------------------------------------------ rendering

function isMine(message) {
  return me !== null && message.author.id === me.id;
}

function timeElement(iso) {
  const date = new Date(iso);
  const time = document.createElement("time");
  time.dateTime = iso;
  time.title = ChatText.fullLabel(date);
  const visible = document.createElement("span");
  visible.setAttribute("aria-hidden", "true");
  visible.textContent = ChatText.timeLabel(date);
  const spoken = document.createElement("span");
  spoken.className = "visually-hidden";
  spoken.textContent = ChatText.fullLabel(date);
  time.append(visible, spoken);
  return time;
}

function render(message) {
  const li = document.createElement("li");
  li.className = "message";
  li.dataset.id = message.id;
  li.dataset.seq = message.seq;
  li.dataset.author = message.author.username;
  li.dataset.at = message.created_at;
  li.id = "m" + message.id; // mention notifications and search results link here
  if (isMine(message)) li.classList.add("mine");
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author.username;
  meta.append(author, " ", timeElement(message.created_at));
  if (message.edited_at) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = "(edited)";
    edited.title = "Edited " + ChatText.fullLabel(new Date(message.edited_at));
    meta.append(" ", edited);
  }
  const body = document.createElement("div");
  body.className = "body";
  body.dir = "auto";
  body.append(ChatText.render(message.body, me));
  if (me && body.querySelector(".mention.me")) li.classList.add("mentions-me");
  li.append(meta, body, renderReactions(message), renderActions(message));
  // Without a pointer that hovers (a phone), a tap on the message shows its actions.
  li.addEventListener("click", (event) => {
    if (event.target.closest("a, button, textarea, form")) return;
    li.classList.toggle("show-actions");
  });
  return li;
}

function renderReactions(message) {
  const row = document.createElement("div");
  row.className = "reactions";
  for (const reaction of message.reactions) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "reaction";
    const mine = me !== null && reaction.users.some((user) => user.id === me.id);
    button.setAttribute("aria-pressed", String(mine));
    const names = reaction.users.map((user) => user.username);
    button.title = names.join(", ") + " reacted with " + reaction.emoji;
    button.setAttribute(
      "aria-label",
      reaction.emoji + " " + names.length + ": " + names.join(", "),
    );
    button.textContent = reaction.emoji + " " + names.length;
    button.dataset.emoji = reaction.emoji;
    button.disabled = !me || muted;
    button.addEventListener("click", () => react(message.id, reaction.emoji));
    row.append(button);
  }
  return row;
}

function renderActions(message) {
  const actions = document.createElement("div");
  actions.className = "actions";
  if (!me) return actions;
  const reactButton = document.createElement("button");
  reactButton.type = "button";
  reactButton.className = "action";
  reactButton.textContent = "React";
  reactButton.setAttribute("aria-expanded", "false");
  reactButton.addEventListener("click", () => togglePicker(message.id, reactButton));
  actions.append(reactButton);
  if (isMine(message)) {
    const age = Date.now() - new Date(message.created_at).getTime();
    if (age < limits.edit_window_s * 1000) {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.className = "action";
      edit.textContent = "Edit";
      edit.addEventListener("click", () => startEdit(message.id));
      actions.append(edit);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "action";
    remove.textContent = "Delete";
    remove.addEventListener("click", () => confirmDelete(message.id, actions));
    actions.append(remove);
  }
  return actions;
}

function togglePicker(id, button) {
  const actions = button.parentElement;
  const open = actions.querySelector(".picker");
  if (open) {
    open.remove();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const picker = document.createElement("div");
  picker.className = "picker";
  picker.setAttribute("role", "group");
  picker.setAttribute("aria-label", "Reactions");
  for (const emoji of limits.reactions) {
    const choice = document.createElement("button");
    choice.type = "button";
    choice.textContent = emoji;
    choice.setAttribute("aria-label", "React with " + emoji);
    choice.addEventListener("click", () => {
      react(id, emoji);
      picker.remove();
      button.setAttribute("aria-expanded", "false");
      button.focus();
    });
    picker.append(choice);
  }
  picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      picker.remove();
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
  actions.append(picker);
  button.setAttribute("aria-expanded", "true");
  picker.querySelector("button").focus();
}

function react(id, emoji) {
  request({type: "reaction.toggle", id: id, emoji: emoji}).catch(refused);
}

function confirmDelete(id, actions) {
  if (actions.querySelector(".confirm")) return;
  const confirm = document.createElement("span");
  confirm.className = "confirm";
  confirm.append("Delete this message? ");
  const yes = document.createElement("button");
  yes.type = "button";
  yes.className = "action danger";
  yes.textContent = "Delete";
  yes.addEventListener("click", () => {
    request({type: "message.delete", id: id}).catch(refused);
    confirm.remove();
  });
  const no = document.createElement("button");
  no.type = "button";
  no.className = "action";
  no.textContent = "Keep";
  no.addEventListener("click", () => confirm.remove());
  confirm.append(yes, " ", no);
  actions.append(confirm);
  no.focus();
}

function startEdit(id) {
  const entry = shown.get(id);
  if (!entry || entry.li.querySelector(".edit-form")) return;
  const form = document.createElement("form");
  form.className = "edit-form";
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.htmlFor = "edit-" + id;
  label.textContent = "Edit your message";
  const area = document.createElement("textarea");
  area.id = "edit-" + id;
  area.rows = 2;
  area.value = entry.message.body;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary";
  cancel.textContent = "Cancel";
  form.append(label, area, save, cancel);
  const close = () => {
    form.remove();
    entry.li.classList.remove("editing");
  };
  cancel.addEventListener("click", close);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = area.value.trim();
    if (!body || body === entry.message.body) {
      close();
      return;
    }
    request({type: "message.edit", id: id, body: body}).then(close, refused);
  });
  entry.li.classList.add("editing");
  entry.li.querySelector(".body").after(form);
  area.focus();
}

// Every stored message goes through here: a newer version (an edit, a reaction)
// replaces the one shown; an older or equal one is dropped.
function upsert(message) {
  authors.set(message.author.username, true);
  const entry = shown.get(message.id);
  if (entry) {
    if (Number(entry.li.dataset.seq) >= message.seq) return false;
    const li = render(message);
    if (entry.li.classList.contains("highlight")) li.classList.add("highlight");
    entry.li.replaceWith(li);
    shown.set(message.id, {li, message});
    return false;
  }
  const li = render(message);
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

function remove(id) {
  const entry = shown.get(id);
  if (!entry) return;
  entry.li.remove();
  shown.delete(id);
}

// Day separators, author groups and the "New" divider follow from the order shown.
function relayout() {
  renderEmpty();
  for (const el of list.querySelectorAll(".day-separator, .new-divider")) el.remove();
  const now = Date.now();
  let previous = null;
  for (const li of list.querySelectorAll("li.message")) {
    const at = new Date(li.dataset.at);
    const newDay = !previous || ChatText.dayKey(at) !== ChatText.dayKey(previous.at);
    if (newDay) {
      const separator = document.createElement("li");
      separator.className = "day-separator";
      const label = document.createElement("span");
      label.textContent = ChatText.dayLabel(at, now);
      separator.append(label);
      li.before(separator);
    }
    if (dividerBefore !== null && Number(li.dataset.id) === dividerBefore) {
      const divider = document.createElement("li");
      divider.className = "new-divider";
      divider.id = "new-divider";
      const label = document.createElement("span");
      label.textContent = "New";
      divider.append(label);
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

function nearBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToBottom() {
  list.scrollTop = list.scrollHeight;
  missedBelow = 0;
  renderPill();
}

// Messages arriving live or on resume: follow them if the reader is at the bottom,
// otherwise count them on the pill.
function addLive(messages) {
  const follow = nearBottom();
  let added = 0;
  for (const message of messages) {
    if (gapBelow) {
      if (!shown.has(message.id) && !isMine(message)) missedBelow += 1;
      continue;
    }
    if (upsert(message) && !isMine(message)) added += 1;
  }
  relayout();
  if (follow && !gapBelow) scrollToBottom();
  else missedBelow += added;
  renderPill();
  noteRead();
}

// Older messages above: the reader's place stays where it was.
function addAbove(messages) {
  const fromBottom = list.scrollHeight - list.scrollTop;
  for (const message of messages) upsert(message);
  relayout();
  list.scrollTop = list.scrollHeight - fromBottom;
}

function clearAll() {
  for (const {li} of shown.values()) li.remove();
  shown.clear();
  relayout();
}

function renderPill() {
  pill.hidden = missedBelow === 0;
  pill.textContent =
    missedBelow === 1 ? "1 new message ↓" : missedBelow + " new messages ↓";
}

function setOlder(hasMore) {
  olderRow.hidden = !hasMore;
  startRow.hidden = hasMore;
  renderEmpty();
}

function renderEmpty() {
  $("room-empty").hidden = shown.size > 0;
}

// ------------------------------------------------------------------ read state

function lastVisibleId() {
  const bottom = list.getBoundingClientRect().bottom;
  let last = 0;
  for (const [id, {li}] of shown) {
    if (li.getBoundingClientRect().top < bottom - 8 && id > last) last = id;
  }
  return last;
}

// What the reader has seen moves the read cursor: only while the page is visible.
function noteRead() {
  if (!me || document.visibilityState !== "visible") {
    renderTitle();
    return;
  }
  const seen = lastVisibleId();
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

function sendRead() {
  clearTimeout(readTimer);
  readTimer = null;
  // Not connected: report it again at the next chance.
  if (!live.send({type: "read", id: readSent})) readSent = 0;
}

function unreadCount() {
  const read = Math.max(readSent, lastReadId || 0);
  let count = 0;
  for (const [id, {message}] of shown) if (id > read && !isMine(message)) count += 1;
  return count + (gapBelow ? missedBelow : 0);
}

function renderTitle() {
  const unread = me ? unreadCount() : 0;
  document.title = unread > 0 ? "(" + unread + ") " + baseTitle : baseTitle;
}

function placeDivider() {
  if (lastReadId === null) return;
  let first = null;
  for (const [id, {message}] of shown) {
    if (id > lastReadId && !isMine(message) && (first === null || id < first)) first = id;
  }
  dividerBefore = first;
  relayout();
}

function openAtUnread() {
  const divider = $("new-divider");
  if (divider) divider.scrollIntoView({block: "start"});
  else scrollToBottom();
  noteRead();
}

// ------------------------------------------------------------------ frames

function handleFrame(frame) {
  switch (frame.type) {
    case "sync":
      onSync(frame);
      break;
    case "message":
      live.seenInOrder(frame.message.seq);
      addLive([frame.message]);
      stopTyping(frame.message.author.username);
      break;
    case "message.updated":
      live.seenInOrder(frame.message.seq);
      if (shown.has(frame.message.id)) upsert(frame.message);
      break;
    case "message.deleted":
      live.seenInOrder(frame.seq, frame.ids.length); // one step per message deleted
      for (const id of frame.ids) remove(id);
      relayout();
      renderTitle();
      break;
    case "history":
      addAbove(frame.messages);
      setOlder(frame.has_more);
      if (openPagesLeft > 0) continueOpening(frame.has_more);
      break;
    case "newer":
      for (const message of frame.messages) upsert(message);
      relayout();
      if (!frame.has_more) closeGap();
      newerRow.hidden = !gapBelow;
      break;
    case "context":
      onContext(frame);
      break;
    case "read":
      if (frame.room !== config.slug) break;
      lastReadId = Math.max(lastReadId || 0, frame.last_read_id);
      renderTitle();
      break;
    case "muted":
      if (frame.room === config.slug) setMuted(frame.muted);
      break;
    case "presence":
      for (const user of frame.joined) {
        if (!online.has(user.id)) onlineTotal += 1;
        online.set(user.id, user.username);
      }
      for (const user of frame.left) {
        online.delete(user.id);
        stopTyping(user.username);
      }
      onlineTotal = frame.online_count;
      renderOnline();
      break;
    case "typing":
      if (me && frame.user.id === me.id) break;
      clearTimeout(typing.get(frame.user.username));
      // The indicator expires by itself unless the typist keeps typing.
      typing.set(
        frame.user.username,
        setTimeout(() => stopTyping(frame.user.username), frame.expires_in),
      );
      renderTyping();
      break;
    case "error":
      showError(frame.message);
      break;
  }
}

function onSync(frame) {
  me = frame.me;
  limits = frame.limits;
  setMuted(frame.muted);
  live.synced(frame.cursor);
  if (frame.mode === "reset") {
    clearAll();
    gapBelow = false;
    newerRow.hidden = true;
  }
  if (firstSync) {
    firstSync = false;
    lastReadId = frame.last_read_id;
    for (const message of frame.messages) upsert(message);
    if (frame.has_more !== undefined) setOlder(frame.has_more);
    online.clear();
    for (const user of frame.online) online.set(user.id, user.username);
    onlineTotal = frame.online_count;
    renderOnline();
    // The first unread may be further back than one page: fetch a few more before
    // placing the divider, so it never shows in the wrong place first.
    const oldest = Math.min(...shown.keys());
    if (lastReadId !== null && frame.has_more && lastReadId < oldest - 1) {
      openPagesLeft = OPEN_PAGES;
      live.send({type: "history", before_id: oldest});
      return;
    }
    placeDivider();
    if (showLinked()) return;
    openAtUnread();
    return;
  }
  for (const id of frame.deleted) remove(id);
  addLive(frame.messages);
  if (frame.has_more !== undefined && frame.mode !== "resume") setOlder(frame.has_more);
  online.clear();
  for (const user of frame.online) online.set(user.id, user.username);
  onlineTotal = frame.online_count;
  renderOnline();
}

function continueOpening(hasMore) {
  openPagesLeft -= 1;
  const oldest = Math.min(...shown.keys());
  if (hasMore && openPagesLeft > 0 && lastReadId < oldest - 1) {
    live.send({type: "history", before_id: oldest});
    return;
  }
  openPagesLeft = 0;
  placeDivider();
  if (showLinked()) return;
  openAtUnread();
}

// A link to one message (#m<id>, from a mention or a search): show it in context.
function showLinked() {
  const match = /^#m(\d+)$/.exec(location.hash);
  if (!match) return false;
  const id = Number(match[1]);
  if (shown.has(id)) {
    highlight(id);
    return true;
  }
  live.send({type: "context", id: id});
  return true;
}

function highlight(id) {
  const entry = shown.get(id);
  if (!entry) return;
  entry.li.classList.add("highlight");
  entry.li.scrollIntoView({block: "center"});
}

function onContext(frame) {
  if (!frame.found) {
    contextNote.textContent =
      "The message you followed a link to is no longer here: it was deleted, or the room no longer keeps messages that old.";
    contextNote.hidden = false;
    openAtUnread();
    return;
  }
  clearAll();
  for (const message of frame.messages) upsert(message);
  setOlder(frame.has_older);
  gapBelow = frame.has_newer;
  newerRow.hidden = !gapBelow;
  relayout();
  highlight(frame.id);
  if (gapBelow) {
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
  gapBelow = false;
  newerRow.hidden = true;
  contextNote.hidden = true;
  missedBelow = 0;
  renderPill();
}

function jumpToLatest() {
  clearAll();
  closeGap();
  history.replaceState(null, "", location.pathname + location.search);
  // The reply is shown (as any history page) before the page scrolls to its end.
  request({type: "history", before_id: LATEST}).then(() => scrollToBottom(), refused);
}

// ------------------------------------------------------------------ requests

function request(frame) {
  return live.request(frame);
}

// What a refused request shows: the server's reason, or that it could not be sent. (A
// request whose socket closed before the answer says nothing: the resync shows what
// happened.)
function refused(error) {
  if (!(error instanceof Disconnected)) showError(error.message);
  else if (!error.sent) showError("Not connected. Try again when the connection is back.");
}

// ------------------------------------------------------------------ composer

function newNonce() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

function setStatus(text, kind) {
  if (!status) return;
  status.textContent = text;
  status.dataset.kind = kind || "";
}

function send() {
  const body = input.value.trim();
  if (!body || pending) return;
  if (body.length > limits.max_length) {
    renderCounter();
    input.focus();
    return;
  }
  pending = {nonce: newNonce(), body: body, timer: null};
  transmit();
}

// The text stays in the box until the server acks it; a send that got no answer is
// sent again (same nonce: stored once) when the connection comes back.
function transmit() {
  const sending = pending;
  clearTimeout(sending.timer);
  if (!live.canSend) {
    setStatus("Not connected. Your message will be sent when the connection is back.", "warn");
    return;
  }
  const sent = request({type: "message.send", body: sending.body, nonce: sending.nonce});
  setStatus("Sending…");
  sending.timer = setTimeout(() => {
    if (pending === sending) {
      setStatus("Not sent yet: waiting for the server. It will be sent when the connection is back.", "warn");
    }
  }, SEND_PATIENCE_MS);
  sent.then(
    () => {
      if (pending !== sending) return;
      clearTimeout(sending.timer);
      pending = null;
      if (input.value.trim() === sending.body) input.value = "";
      setStatus("");
      renderCounter();
      lastTypingSent = 0;
    },
    (error) => {
      // The socket closed first: it stays pending, and is sent again on the next one.
      if (pending !== sending || error instanceof Disconnected) return;
      clearTimeout(sending.timer);
      pending = null;
      setStatus("Not sent: " + error.message + ". Your text is still here.", "error");
    },
  );
}

function resendPending() {
  if (pending) transmit();
}

function renderCounter() {
  if (!counter) return;
  const length = input.value.trim().length;
  const max = limits.max_length;
  const over = length - max;
  if (over > 0) {
    counter.textContent =
      over.toLocaleString() + (over === 1 ? " character" : " characters") + " over the limit of " + max.toLocaleString();
    counter.dataset.kind = "error";
  } else if (length >= max * 0.9) {
    counter.textContent = length.toLocaleString() + " / " + max.toLocaleString();
    counter.dataset.kind = "warn";
  } else {
    counter.textContent = "";
    counter.dataset.kind = "";
  }
  input.setAttribute("aria-invalid", String(over > 0));
  sendButton.disabled = muted || over > 0;
}

function setMuted(value) {
  muted = value;
  if (!composer) return;
  input.disabled = muted;
  sendButton.disabled = muted;
  input.placeholder = muted
    ? "You are muted in this room: you can read, but not post."
    : "Write a message…";
  composer.classList.toggle("is-muted", muted);
  if (muted) setStatus("You are muted in this room: you can read, but not post or react.", "warn");
  else if (status && status.dataset.kind === "warn" && !pending) setStatus("");
  for (const button of list.querySelectorAll(".reaction")) button.disabled = !me || muted;
}

// "@" offers the names of people in the room, by keyboard or pointer.
const mentions = {open: false, items: [], active: 0, start: 0};

function mentionQuery() {
  const caret = input.selectionStart;
  const before = input.value.slice(0, caret);
  const match = /(?:^|[^\p{L}\p{N}_@.+-])@([\p{L}\p{N}_.+-]*)$/u.exec(before);
  if (!match) return null;
  return {text: match[1], start: caret - match[1].length};
}

function updateMentions() {
  const query = mentionQuery();
  if (!query) return closeMentions();
  const names = new Set([...online.values(), ...authors.keys()]);
  if (me) names.delete(me.username);
  const prefix = query.text.toLowerCase();
  const items = [...names]
    .filter((name) => name.toLowerCase().startsWith(prefix))
    .sort((a, b) => a.localeCompare(b))
    .slice(0, 8);
  if (!items.length) return closeMentions();
  mentions.open = true;
  mentions.items = items;
  mentions.start = query.start;
  mentions.active = Math.min(mentions.active, items.length - 1);
  mentionList.replaceChildren(
    ...items.map((name, i) => {
      const option = document.createElement("li");
      option.id = "mention-" + i;
      option.setAttribute("role", "option");
      option.textContent = "@" + name;
      option.addEventListener("mousedown", (event) => {
        event.preventDefault();
        pickMention(i);
      });
      return option;
    }),
  );
  mentionList.hidden = false;
  highlightMention();
}

function highlightMention() {
  mentionList.querySelectorAll("[role=option]").forEach((option, i) => {
    option.setAttribute("aria-selected", String(i === mentions.active));
  });
  input.setAttribute("aria-activedescendant", "mention-" + mentions.active);
}

function closeMentions() {
  mentions.open = false;
  mentions.active = 0;
  if (mentionList) mentionList.hidden = true;
  if (input) input.removeAttribute("aria-activedescendant");
}

function pickMention(i) {
  const name = mentions.items[i];
  const caret = input.selectionStart;
  const text = input.value;
  input.value = text.slice(0, mentions.start) + name + " " + text.slice(caret);
  const at = mentions.start + name.length + 1;
  input.setSelectionRange(at, at);
  closeMentions();
  input.focus();
}

// ------------------------------------------------------------------ the rest

function renderOnline() {
  const names = [...online.values()].sort();
  onlineList.replaceChildren(
    ...names.map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      return li;
    }),
  );
  const count = String(Math.max(onlineTotal, names.length));
  onlineCount.textContent = count;
  onlineToggleCount.textContent = count;
}

function renderTyping() {
  const names = [...typing.keys()];
  if (names.length === 0) typingLine.textContent = "";
  else if (names.length === 1) typingLine.textContent = names[0] + " is typing…";
  else typingLine.textContent = names.join(", ") + " are typing…";
}

function stopTyping(username) {
  if (!typing.has(username)) return;
  clearTimeout(typing.get(username));
  typing.delete(username);
  renderTyping();
}

function showError(text) {
  errorLine.textContent = text.charAt(0).toUpperCase() + text.slice(1) + ".";
  errorLine.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (errorLine.hidden = true), 8000);
}

function closed(code) {
  if (composer) sendButton.disabled = true;
  if (code === 4401) return; // logged out: live.js says so for the whole page
  showError(code === 4404 ? "this room no longer exists" : "you cannot view this room");
}

$("load-older").addEventListener("click", () => {
  const ids = [...shown.keys()];
  if (ids.length) live.send({type: "history", before_id: Math.min(...ids)});
});
$("load-newer").addEventListener("click", () => {
  const ids = [...shown.keys()];
  if (ids.length) live.send({type: "newer", after_id: Math.max(...ids)});
});
$("jump-latest").addEventListener("click", jumpToLatest);
pill.addEventListener("click", () => (gapBelow ? jumpToLatest() : scrollToBottom()));

let scrollTimer = null;
list.addEventListener("scroll", () => {
  if (scrollTimer) return;
  scrollTimer = setTimeout(() => {
    scrollTimer = null;
    if (nearBottom() && !gapBelow) {
      missedBelow = 0;
      renderPill();
    }
    noteRead();
  }, 150);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden" && readTimer !== null) sendRead();
  noteRead();
});
window.addEventListener("pagehide", () => {
  if (readTimer !== null) sendRead();
});
// A mention's toast links into the room the reader may already be in.
window.addEventListener("hashchange", () => {
  if (!firstSync) showLinked();
});
window.addEventListener("focus", noteRead);

if (composer) {
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  input.addEventListener("keydown", (event) => {
    if (mentions.open) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        mentions.active = (mentions.active + step + mentions.items.length) % mentions.items.length;
        highlightMention();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        pickMention(mentions.active);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        closeMentions();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    renderCounter();
    updateMentions();
    if (pending === null && status.dataset.kind === "error") setStatus("");
    const now = Date.now();
    if (!muted && input.value.trim() && now - lastTypingSent > limits.typing_timeout_ms / 2) {
      lastTypingSent = now;
      live.send({type: "typing"});
    }
  });
  input.addEventListener("blur", () => setTimeout(closeMentions, 100));
}
