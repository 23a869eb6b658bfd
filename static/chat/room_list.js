/*
 * The room list: live online counts, and the viewer's unread and mention counts in the
 * rooms they joined. Joining is having a read cursor: opening a room joins it, and so
 * does its "Join" button here (docs/decisions.md). Private rooms are listed to their
 * members only: one appears when its viewer is invited and goes when they leave or are
 * removed, in every tab.
 */
import {ServerError, connect} from "../realtime/live.js";
import {CLIENT, SERVER} from "../realtime/protocol.js";

const rooms = new Map(); // slug -> {unread, mentions, countedTo} for rooms the user joined
let me = null;
const errorLine = document.getElementById("rooms-error");

function card(slug) {
  return document.querySelector('[data-room="' + CSS.escape(slug) + '"]');
}

function setOnline(slug, online) {
  for (const el of document.querySelectorAll("[data-room-online]")) {
    if (el.dataset.roomOnline !== slug) continue;
    el.textContent = String(online);
    // The green dot says someone is there: none for an empty room.
    el.closest("[data-room-presence]")?.classList.toggle("nobody", online === 0);
  }
}

function renderJoin(slug) {
  const el = card(slug);
  const join = el?.querySelector("[data-room-join]");
  const joined = rooms.has(slug);
  // A private room is joined by being a member: no Join; Leave ends the membership.
  if (join) join.hidden = me === null || joined || el.hasAttribute("data-private");
  const leave = el?.querySelector("[data-room-leave]");
  if (leave) leave.hidden = me === null || !(joined || el.hasAttribute("data-private"));
}

function ask(frame) {
  errorLine.hidden = true;
  live.request(frame).catch((error) => {
    errorLine.textContent = error instanceof ServerError ? error.message : "Not connected. Try again when the connection is back.";
    errorLine.hidden = false;
  });
}

function wireCard(el) {
  el.querySelector("[data-room-join] button")?.addEventListener("click", () => ask({type: CLIENT.ROOM_JOIN, slug: el.dataset.room}));
  el.querySelector("[data-room-leave] button")?.addEventListener("click", () => ask({type: CLIENT.ROOM_LEAVE, slug: el.dataset.room}));
}

for (const el of document.querySelectorAll("[data-room]")) wireCard(el);

const list = document.getElementById("rooms");

// A room the viewer may now see (invited, or its group): a card at the top of the list.
function addCard(room) {
  if (room.kind === "direct") return addDirect(room);
  const template = document.getElementById("room-card-template");
  if (!template || card(room.slug)) return;
  const el = template.content.firstElementChild.cloneNode(true);
  el.dataset.room = room.slug;
  if (room.private) {
    el.setAttribute("data-private", "");
    el.querySelector("[data-private-mark]").hidden = false;
    el.querySelector("[data-private-label]").hidden = false;
  }
  el.querySelector("a").href = encodeURIComponent(room.slug) + "/";
  el.querySelector("[data-room-title]").textContent = room.title;
  const description = el.querySelector("[data-room-description]");
  description.textContent = room.description;
  description.hidden = !room.description;
  el.querySelector("[data-room-online]").dataset.roomOnline = room.slug;
  el.querySelector("[data-join-label]").textContent = " " + room.title;
  el.querySelector("[data-leave-label]").textContent = " " + room.title;
  wireCard(el);
  list.prepend(el);
  list.hidden = false;
  document.getElementById("rooms-empty").hidden = true;
}

// A direct conversation (started here, in another tab, or by someone writing to the
// viewer): first in the list of direct messages.
function addDirect(room) {
  const template = document.getElementById("direct-card-template");
  if (!template || card(room.slug)) return;
  const el = template.content.firstElementChild.cloneNode(true);
  el.dataset.room = room.slug;
  el.querySelector("a").href = encodeURIComponent(room.slug) + "/";
  el.querySelector("[data-room-title]").textContent = room.title;
  const directs = document.getElementById("directs");
  directs.prepend(el);
  directs.hidden = false;
  document.getElementById("directs-empty").hidden = true;
}

// New activity in a direct conversation brings it to the top.
function toTop(slug) {
  const el = card(slug);
  if (el && el.dataset.kind === "direct" && el.parentElement.firstElementChild !== el) el.parentElement.prepend(el);
}

document.getElementById("direct-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  const names = document.getElementById("direct-names").value.trim();
  if (!names) return;
  errorLine.hidden = true;
  live
    .request({type: CLIENT.DIRECT_OPEN, usernames: names})
    .then((reply) => window.location.assign(reply.url))
    .catch((error) => {
      errorLine.textContent = error instanceof ServerError ? error.message : "Not connected. Try again when the connection is back.";
      errorLine.hidden = false;
    });
});

function removeCard(slug) {
  card(slug)?.remove();
  rooms.delete(slug);
  if (!list.querySelector("[data-room]")) {
    list.hidden = true;
    document.getElementById("rooms-empty").hidden = false;
  }
}

// A public room left (here or in another tab): still listed, no longer counted.
function uncount(slug) {
  rooms.delete(slug);
  const el = card(slug);
  if (!el) return;
  el.querySelector("[data-room-unread]").hidden = true;
  el.querySelector("[data-room-mentions]").hidden = true;
  el.classList.remove("has-unread");
  renderJoin(slug);
}

// The server counts up to CHAT_UNREAD_COUNT_LIMIT (the list says it): "99+" from there.
const unreadLimit = Number(document.getElementById("rooms")?.dataset.unreadLimit) || 100;

function capped(n, limit = unreadLimit) {
  return n >= limit ? limit - 1 + "+" : String(n);
}

function renderCounts(slug) {
  const el = card(slug);
  const state = rooms.get(slug);
  if (!el || !state) return;
  const unread = el.querySelector("[data-room-unread]");
  const mentions = el.querySelector("[data-room-mentions]");
  unread.hidden = state.unread === 0;
  unread.textContent = capped(state.unread);
  unread.setAttribute("aria-label", state.unread + " unread");
  // In a direct conversation every message is for the viewer: its unread count says it.
  mentions.hidden = state.mentions === 0 || el.dataset.kind === "direct";
  unread.classList.toggle("mentions", el.dataset.kind === "direct");
  mentions.textContent = "@" + capped(state.mentions);
  mentions.setAttribute("aria-label", state.mentions + (state.mentions === 1 ? " mention" : " mentions"));
  el.classList.toggle("has-unread", state.unread > 0);
}

const live = connect("/ws/chat/", {
  onFrame(frame) {
    switch (frame.type) {
      case SERVER.ROOMS:
        me = frame.me;
        for (const room of frame.rooms) {
          setOnline(room.slug, room.online);
          if (room.unread !== null) {
            rooms.set(room.slug, {unread: room.unread, mentions: room.mentions, countedTo: room.counted_to});
            renderCounts(room.slug);
          }
          renderJoin(room.slug);
        }
        break;
      case SERVER.ROOM_ADDED: {
        const room = frame.room;
        addCard(room);
        rooms.set(room.slug, {unread: room.unread, mentions: room.mentions, countedTo: room.counted_to});
        renderCounts(room.slug);
        renderJoin(room.slug);
        break;
      }
      case SERVER.ROOM_REMOVED:
        if (frame.private) removeCard(frame.slug);
        else uncount(frame.slug);
        break;
      case SERVER.ROOM_ONLINE:
        setOnline(frame.slug, frame.online);
        break;
      case SERVER.ROOM_ACTIVITY: {
        const state = rooms.get(frame.slug);
        // Counted already, one's own, or a room not joined: nothing to add.
        if (!state || !me || frame.id <= state.countedTo || frame.author_id === me.id) break;
        state.countedTo = frame.id;
        state.unread += 1;
        toTop(frame.slug);
        if (frame.mentions.includes(me.id)) state.mentions += 1;
        renderCounts(frame.slug);
        break;
      }
      case SERVER.READ: {
        // A room just joined (here or in another tab) counts from its cursor on.
        const state = rooms.get(frame.room) || {countedTo: frame.last_read_id};
        state.unread = frame.unread;
        state.mentions = frame.mentions;
        rooms.set(frame.room, state);
        renderCounts(frame.room);
        renderJoin(frame.room);
        break;
      }
    }
  },
});
