/*
 * Notifications on every page: one socket (/ws/notifications/), toasts, the unread badge.
 *
 * Pages that show notifications themselves (the inbox) import this module: they follow
 * its frames with onNotificationFrame(listener) (called with (frame, unread) after this
 * module has handled each) and mark read with markRead(id) / markAllRead(); both return
 * false when the socket is not open.
 *
 * A mention of a message in the room the page shows, while visible, toasts nothing: the
 * message is already there, highlighted (here.js). It still counts until read.
 */
import {shownHere} from "./here.js";
import {connect} from "../realtime/live.js";
import {CLIENT, SERVER} from "../realtime/protocol.js";

const TOAST_MS = {info: 8000, success: 8000, warning: 12000, error: 15000};
const MIN_TOAST_AFTER_PAUSE_MS = 3000;
const MAX_TOASTS_ON_RESUME = 3;

const badge = document.getElementById("notify-badge");
const toasts = document.getElementById("toasts");
const baseTitle = document.title;
const known = new Set(); // ids this page has had, so nothing is counted or shown twice
let unread = 0;
let synced = false;
const listeners = []; // onNotificationFrame's

const live = connect("/ws/notifications/", {onFrame: handle});

function renderBadge() {
  if (!badge) return;
  // The badge, and its copy on the phone layout's menu button.
  for (const el of [badge, ...document.querySelectorAll("[data-notify-count]")]) {
    el.dataset.count = String(unread);
    el.textContent = unread > 99 ? "99+" : String(unread);
    el.hidden = unread === 0;
    el.setAttribute("aria-label", unread + " unread");
  }
  document.title = unread > 0 ? "(" + unread + ") " + baseTitle : baseTitle;
}

// A toast stays while the pointer is on it or focus is in it (someone reading it or
// reaching for its link), then gets at least a few more seconds.
function dismissLater(box, ms) {
  let remaining = ms;
  let started = 0;
  let timer = null;
  const run = () => {
    started = Date.now();
    timer = setTimeout(() => box.remove(), remaining);
  };
  const pause = () => {
    if (timer === null) return;
    clearTimeout(timer);
    timer = null;
    remaining = Math.max(remaining - (Date.now() - started), MIN_TOAST_AFTER_PAUSE_MS);
  };
  const resume = (next) => {
    if (timer !== null || box.matches(":hover") || box.contains(next || document.activeElement)) return;
    run();
  };
  box.addEventListener("mouseenter", pause);
  box.addEventListener("focusin", pause);
  box.addEventListener("mouseleave", () => resume(null));
  box.addEventListener("focusout", (event) => resume(event.relatedTarget));
  run();
}

// Title and body go through textContent: notification text is never parsed as HTML.
function toast(notification) {
  if (!toasts) return;
  const box = document.createElement("div");
  box.className = "toast level-" + notification.level;
  box.dataset.id = notification.id;
  box.setAttribute("role", notification.level === "error" ? "alert" : "status");
  const title = document.createElement(notification.link ? "a" : "strong");
  title.className = "title";
  title.textContent = notification.title;
  // Through the server: it marks the notification read, then follows the stored link.
  if (notification.link) title.href = "/notifications/" + notification.id + "/";
  box.append(title);
  if (notification.body) {
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = notification.body;
    box.append(body);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => box.remove());
  box.append(close);
  toasts.append(box);
  dismissLater(box, TOAST_MS[notification.level] || TOAST_MS.info);
}

const isShownHere = (n) => shownHere(n.link, window.location, document.visibilityState);

function summaryToast(count) {
  toast({id: 0, level: "info", title: count + " more notifications while you were away", body: "", link: ""});
}

function handle(frame) {
  switch (frame.type) {
    case SERVER.SYNC: {
      const fresh = frame.notifications.filter((n) => !known.has(n.id));
      for (const n of frame.notifications) {
        known.add(n.id);
        live.seen(n.id);
      }
      live.seen(0); // an empty inbox still resumes (?after_id=0) after a disconnect
      // On a resume, show what arrived while the page was disconnected.
      if (synced && frame.mode === "resume") {
        const missed = fresh.filter((n) => !n.read && !isShownHere(n));
        missed.slice(-MAX_TOASTS_ON_RESUME).forEach(toast);
        if (missed.length > MAX_TOASTS_ON_RESUME) summaryToast(missed.length - MAX_TOASTS_ON_RESUME);
      }
      synced = true;
      unread = frame.unread;
      renderBadge();
      // From now on a notification is news on this page (what came before is counted).
      if (badge) badge.dataset.synced = "true";
      break;
    }
    case SERVER.NOTIFICATION: {
      const n = frame.notification;
      const isNew = !known.has(n.id);
      known.add(n.id);
      live.seen(n.id);
      if (frame.quiet) {
        // What it shows changed (its message was edited or deleted): nothing new to
        // announce or count; a toast still showing it shows the new text.
        const shown = toasts && toasts.querySelector('.toast[data-id="' + n.id + '"]');
        if (shown) {
          shown.remove();
          toast(n);
        }
        break;
      }
      if (!isNew && !frame.again && !frame.update) return;
      if (isNew && !n.read && badge) unread += 1;
      renderBadge();
      // A repeat folded into a notification ("mentioned you 12 times") replaces the
      // toast already showing it instead of stacking another.
      const shown = toasts && toasts.querySelector('.toast[data-id="' + n.id + '"]');
      if (shown && frame.update) shown.remove();
      if (!isShownHere(n)) toast(n);
      break;
    }
    case SERVER.READ:
      unread = frame.unread;
      renderBadge();
      for (const id of frame.ids) {
        const shown = toasts && toasts.querySelector('.toast[data-id="' + id + '"]');
        if (shown) shown.remove();
      }
      break;
  }
  for (const listener of listeners) listener(frame, unread);
}

export function onNotificationFrame(listener) {
  listeners.push(listener);
}

export function markRead(id) {
  return live.send({type: CLIENT.MARK_READ, id: id});
}

export function markAllRead() {
  return live.send({type: CLIENT.MARK_ALL_READ});
}
