/* The inbox page: live additions and read state, marking read over the socket.
 * Items added live are built like the server's (templates/notifications/inbox.html):
 * same markup, level label and time format. */
import {localTime} from "../rtsite/site.js";
import {markAllRead, markRead, onNotificationFrame} from "./notify.js";
import {SERVER} from "../realtime/protocol.js";

const list = document.getElementById("inbox");
const unreadLabel = document.getElementById("inbox-unread");
const markAll = document.getElementById("mark-all-read");
const levels = JSON.parse(document.getElementById("inbox-levels").textContent);
const firstPage = list.dataset.page === "1";

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text; // never parsed as HTML
  return el;
}

function markReadForm(id) {
  const form = element("form", "inline mark-read");
  form.method = "post";
  form.action = "/notifications/" + id + "/read/";
  form.append(markAll.querySelector("[name=csrfmiddlewaretoken]").cloneNode());
  const button = element("button", "link", "Mark read");
  button.type = "submit";
  form.append(button);
  return form;
}

function item(n) {
  const li = element("li", "inbox-item level-" + n.level + (n.read ? "" : " unread"));
  li.dataset.id = n.id;
  const main = element("div", "inbox-main");
  const title = element("a", "title", n.title);
  title.href = "/notifications/" + n.id + "/";
  title.dir = "auto";
  main.append(title);
  if (n.body) {
    const body = element("p", "body", n.body);
    body.dir = "auto";
    main.append(body);
  }
  const meta = element("p", "inbox-meta");
  const separator = element("span", "", " · ");
  separator.setAttribute("aria-hidden", "true");
  const time = element("time", "", localTime(n.created_at));
  time.dateTime = n.created_at;
  meta.append(element("span", "level", levels[n.level] || n.level), separator, time);
  main.append(meta);
  li.append(main);
  if (!n.read) li.append(markReadForm(n.id));
  return li;
}

function add(n, update, quiet) {
  const shown = list.querySelector('[data-id="' + n.id + '"]');
  if (shown && update) {
    // A repeat folded in (new title and count), or its message edited or deleted: same place.
    shown.replaceWith(item(n));
    return;
  }
  if (!firstPage || shown || quiet) return; // a quiet change to one not listed here
  const empty = document.getElementById("inbox-empty");
  if (empty) empty.remove();
  // Newest first: put it before the first older one.
  const older = [...list.children].find((el) => Number(el.dataset.id) < n.id);
  list.insertBefore(item(n), older || null);
}

function markShownRead(ids) {
  for (const id of ids) {
    const li = list.querySelector('[data-id="' + id + '"]');
    if (!li) continue;
    li.classList.remove("unread");
    const form = li.querySelector("form.mark-read");
    if (form) form.remove();
  }
}

onNotificationFrame((frame, unread) => {
  if (frame.type === SERVER.SYNC) frame.notifications.forEach((n) => add(n, false));
  else if (frame.type === SERVER.NOTIFICATION) add(frame.notification, frame.update, frame.quiet);
  else if (frame.type === SERVER.READ) markShownRead(frame.ids);
  unreadLabel.textContent = unread;
});

// The forms work without JavaScript; with the socket open they need no page load.
markAll.addEventListener("submit", (event) => {
  if (markAllRead()) event.preventDefault();
});
list.addEventListener("submit", (event) => {
  const form = event.target.closest("form.mark-read");
  if (form && markRead(Number(form.closest("li").dataset.id))) event.preventDefault();
});
