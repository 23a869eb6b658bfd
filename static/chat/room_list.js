/*
 * The room list: live online counts, and the viewer's unread and mention counts in the
 * rooms they joined. Joining is having a read cursor: opening a room joins it, and so
 * does its "Join" button here (docs/decisions.md).
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
  const join = card(slug)?.querySelector("[data-room-join]");
  if (join) join.hidden = me === null || rooms.has(slug);
}

function join(slug) {
  errorLine.hidden = true;
  live.request({type: CLIENT.ROOM_JOIN, slug: slug}).catch((error) => {
    errorLine.textContent = error instanceof ServerError ? error.message : "Not connected. Try again when the connection is back.";
    errorLine.hidden = false;
  });
}

for (const el of document.querySelectorAll("[data-room]")) {
  el.querySelector("[data-room-join] button")?.addEventListener("click", () => join(el.dataset.room));
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
  mentions.hidden = state.mentions === 0;
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
      case SERVER.ROOM_ONLINE:
        setOnline(frame.slug, frame.online);
        break;
      case SERVER.ROOM_ACTIVITY: {
        const state = rooms.get(frame.slug);
        // Counted already, one's own, or a room not joined: nothing to add.
        if (!state || !me || frame.id <= state.countedTo || frame.author_id === me.id) break;
        state.countedTo = frame.id;
        state.unread += 1;
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
