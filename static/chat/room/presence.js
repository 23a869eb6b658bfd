/* Who is online in the room (a large room lists only some, and counts them all) and
 * who is typing. */
import {personButton} from "../person_menu.js";

const people = document.getElementById("people");
const staleNote = document.getElementById("online-stale");
const onlineList = document.getElementById("online");
const onlineCount = document.getElementById("online-count");
const onlineToggleCount = document.getElementById("online-toggle-count");
const typingLine = document.getElementById("typing");

const online = new Map(); // user id -> username
const typing = new Map(); // username -> timer
let onlineTotal = 0;

export const onlineNames = () => online.values();

// The whole list, as a sync has it.
export function setOnline(users, count) {
  online.clear();
  for (const user of users) online.set(user.id, user.username);
  onlineTotal = count;
  renderOnline();
}

export function onPresence(frame) {
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
}

function renderOnline() {
  const users = [...online].map(([id, username]) => ({id, username}));
  users.sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  const names = users.map((user) => user.username);
  onlineList.replaceChildren(
    ...users.map((user) => {
      const li = document.createElement("li");
      li.append(personButton(user));
      return li;
    }),
  );
  const count = String(Math.max(onlineTotal, names.length));
  onlineCount.textContent = count;
  onlineToggleCount.textContent = count;
}

// While the page is not connected the list may be out of date: greyed, and said so.
export function setStale(stale) {
  people.classList.toggle("stale", stale);
  staleNote.hidden = !stale;
}

// Someone is typing: the indicator expires by itself unless they keep typing.
export function onTyping(user, expiresIn) {
  clearTimeout(typing.get(user.username));
  typing.set(
    user.username,
    setTimeout(() => stopTyping(user.username), expiresIn),
  );
  renderTyping();
}

export function stopTyping(username) {
  if (!typing.has(username)) return;
  clearTimeout(typing.get(username));
  typing.delete(username);
  renderTyping();
}

function renderTyping() {
  const names = [...typing.keys()];
  if (names.length === 0) typingLine.textContent = "";
  else if (names.length === 1) typingLine.textContent = names[0] + " is typing…";
  else typingLine.textContent = names.join(", ") + " are typing…";
}
