/*
 * The composer keeps the text until the server has stored it: a refused message stays
 * in the box with the reason, and one that got no answer is sent again (same nonce:
 * stored once) when the connection comes back. It counts characters near the limit,
 * says when the viewer is muted, signals typing, and offers names after "@".
 *
 * Enter sends on a computer; on a touch screen's keyboard it adds a line and the Send
 * button sends (as in Slack's and Discord's phone apps). Up in an empty box edits the
 * viewer's last message. A reply shows its original in a bar above the box (Escape or
 * Cancel drops it); the bar follows the original's edits, and goes if it is deleted.
 * Files attached (uploads.js) go with the message: it waits for their uploads, and may
 * then have no text.
 */
import {Disconnected} from "../../realtime/live.js";
import {mentionBox} from "./mentions.js";
import {latestQuote, onQuoteChange} from "./replies.js";
import * as uploads from "./uploads.js";
import {canSend, request, send as sendFrame} from "./socket.js";
import {viewer} from "./viewer.js";
import {CLIENT, LIMITS} from "../../realtime/protocol.js";

const SEND_PATIENCE_MS = 8000;

const $ = (id) => document.getElementById(id);
const composer = $("composer"); // none for a visitor
const input = $("composer-body");
const sendButton = $("composer-send");
const status = $("composer-status");
const counter = $("composer-count");
const replyBar = $("reply-bar");
const replyText = $("reply-bar-text");
const attachButton = $("composer-attach");
const fileInput = $("composer-file");

let pending = null; // {nonce, body, replyTo, attachments, timer}: the message being sent
let replying = null; // the id of the message the next one answers
let lastTypingSent = 0;

function newNonce() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const nonce = Date.now().toString(36) + Math.random().toString(36).slice(2);
  return nonce.slice(0, LIMITS.NONCE_MAX_LENGTH);
}

function setStatus(text, kind) {
  if (!status) return;
  status.textContent = text;
  status.dataset.kind = kind || "";
}

function send() {
  const body = input.value.trim();
  if (pending) return;
  if (uploads.uploading()) {
    setStatus("Your files are still uploading. Send again when they are ready.", "warn");
    return;
  }
  if (uploads.failed()) {
    setStatus("Some files could not be uploaded. Remove them, then send.", "error");
    return;
  }
  const attachments = uploads.readyIds();
  if (!body && attachments.length === 0) return;
  if (body.length > viewer.limits.max_length) {
    renderCounter();
    input.focus();
    return;
  }
  pending = {nonce: newNonce(), body: body, replyTo: replying, attachments: attachments, timer: null};
  transmit();
}

function transmit() {
  const sending = pending;
  clearTimeout(sending.timer);
  if (!canSend()) {
    setStatus("Not connected. Your message will be sent when the connection is back.", "warn");
    return;
  }
  const frame = {type: CLIENT.MESSAGE_SEND, body: sending.body, nonce: sending.nonce};
  if (sending.replyTo !== null) frame.reply_to = sending.replyTo;
  if (sending.attachments.length) frame.attachments = sending.attachments;
  const reply = request(frame);
  setStatus("Sending…");
  sending.timer = setTimeout(() => {
    if (pending === sending) {
      setStatus("Not sent yet: waiting for the server. It will be sent when the connection is back.", "warn");
    }
  }, SEND_PATIENCE_MS);
  reply.then(
    () => {
      if (pending !== sending) return;
      clearTimeout(sending.timer);
      pending = null;
      if (input.value.trim() === sending.body) input.value = "";
      if (replying === sending.replyTo) cancelReply();
      uploads.clearSent(sending.attachments);
      setStatus("");
      renderCounter();
      lastTypingSent = 0;
    },
    (error) => {
      // The socket closed first: it stays pending, and is sent again on the next one.
      if (pending !== sending || error instanceof Disconnected) return;
      clearTimeout(sending.timer);
      pending = null;
      setStatus(error.message + " Your text is still here.", "error");
    },
  );
}

// Reply to ``message``: the bar above the box quotes it, and the next message answers it.
export function replyTo(message) {
  if (!composer || viewer.muted) return;
  replying = message.id;
  renderReplyBar();
  input.focus();
}

export function cancelReply() {
  replying = null;
  if (!replyBar) return;
  replyBar.hidden = true;
  // The box's description names the bar's text, hidden or not: nothing is left in it.
  replyText.textContent = "";
  replyText.title = "";
}

function renderReplyBar() {
  const quote = replying === null ? null : latestQuote(replying);
  if (quote === null) return cancelReply();
  if (quote.deleted) {
    cancelReply();
    setStatus("The message you were replying to was deleted.", "warn");
    return;
  }
  const author = document.createElement("strong");
  author.textContent = quote.author.username;
  const text = document.createElement("span");
  text.className = "reply-text";
  text.dir = "auto";
  text.textContent = quote.text;
  replyText.replaceChildren("Replying to ", author, ": ", text);
  replyText.title = replyText.textContent; // cut with an ellipsis when long
  replyBar.hidden = false;
}

// A new socket is open: the message that got no answer goes again.
export function resendPending() {
  if (pending) transmit();
}

function renderCounter() {
  if (!counter) return;
  const length = input.value.trim().length;
  const max = viewer.limits.max_length;
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
  sendButton.disabled = viewer.muted || over > 0;
}

// The viewer was muted or unmuted (viewer.muted says which).
export function renderMuted() {
  if (!composer) return;
  const muted = viewer.muted;
  input.disabled = muted;
  sendButton.disabled = muted;
  attachButton.disabled = muted;
  fileInput.disabled = muted;
  input.placeholder = muted ? "You are muted in this room: you can read, but not post." : "Write a message…";
  composer.classList.toggle("is-muted", muted);
  if (muted) cancelReply();
  if (muted) setStatus("You are muted in this room: you can read, but not post or react.", "warn");
  else if (status && status.dataset.kind === "warn" && !pending) setStatus("");
}

// The socket closed for good (the room is gone, or the viewer may not see it).
export function disable() {
  if (!composer) return;
  sendButton.disabled = true;
  attachButton.disabled = true;
  fileInput.disabled = true;
}

// A touch screen with no mouse: its keyboard's Enter key is the only way to a new line.
const touchOnly = () => window.matchMedia("(hover: none) and (pointer: coarse)").matches;

/**
 * Wires the composer (when the viewer may post); ``names()`` are the names "@" offers,
 * and ``editLast()`` opens the viewer's last message for editing (false if there is none).
 */
export function startComposer(names, editLast) {
  if (!composer) return;
  if (touchOnly()) $("composer-hint").textContent = "Enter adds a line · Send sends · @ mentions";
  const mentions = mentionBox(input, $("mention-list"), names, () => viewer.me && viewer.me.username);
  onQuoteChange((id) => {
    if (id === replying) renderReplyBar();
  });
  $("reply-cancel").addEventListener("click", () => {
    cancelReply();
    input.focus();
  });
  // "Still uploading" goes once they are done; a refusal stays until the next keystroke.
  uploads.start(() => {
    if (pending === null && status.dataset.kind === "warn" && !uploads.uploading()) setStatus("");
  }, setStatus);
  uploads.watch(composer.closest(".chat"), input);
  attachButton.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    uploads.add([...fileInput.files]);
    fileInput.value = ""; // the same file may be chosen again
    input.focus();
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  input.addEventListener("keydown", (event) => {
    if (mentions.key(event)) return;
    if (event.key === "Escape" && replying !== null) {
      event.preventDefault();
      cancelReply();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !touchOnly()) {
      event.preventDefault();
      composer.requestSubmit();
    }
    const plain = !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey;
    if (event.key === "ArrowUp" && plain && input.value === "" && editLast()) event.preventDefault();
  });
  input.addEventListener("input", () => {
    renderCounter();
    mentions.update();
    if (pending === null && status.dataset.kind === "error") setStatus("");
    const now = Date.now();
    if (!viewer.muted && input.value.trim() && now - lastTypingSent > viewer.limits.typing_timeout_ms / 2) {
      lastTypingSent = now;
      sendFrame({type: CLIENT.TYPING});
    }
  });
  input.addEventListener("blur", () => setTimeout(mentions.close, 100));
}
