/* The room list: live online counts, and the viewer's unread and mention counts. */
import {connect} from "../realtime/live.js";
import {SERVER} from "../realtime/protocol.js";

const rooms = new Map(); // slug -> {unread, mentions, countedTo} for rooms the user opened
let me = null;

function card(slug) {
  return document.querySelector('[data-room="' + CSS.escape(slug) + '"]');
}

function setOnline(slug, online) {
  for (const el of document.querySelectorAll("[data-room-online]")) {
    if (el.dataset.roomOnline === slug) el.textContent = String(online);
  }
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

connect("/ws/chat/", {
  onFrame(frame) {
    switch (frame.type) {
      case SERVER.ROOMS:
        me = frame.me;
        for (const room of frame.rooms) {
          setOnline(room.slug, room.online);
          if (room.unread === null) continue;
          rooms.set(room.slug, {unread: room.unread, mentions: room.mentions, countedTo: room.counted_to});
          renderCounts(room.slug);
        }
        break;
      case SERVER.ROOM_ONLINE:
        setOnline(frame.slug, frame.online);
        break;
      case SERVER.ROOM_ACTIVITY: {
        const state = rooms.get(frame.slug);
        // Counted already, one's own, or a room never opened: nothing to add.
        if (!state || !me || frame.id <= state.countedTo || frame.author_id === me.id) break;
        state.countedTo = frame.id;
        state.unread += 1;
        if (frame.mentions.includes(me.id)) state.mentions += 1;
        renderCounts(frame.slug);
        break;
      }
      case SERVER.READ: {
        const state = rooms.get(frame.room) || {countedTo: 0};
        state.unread = frame.unread;
        state.mentions = frame.mentions;
        rooms.set(frame.room, state);
        renderCounts(frame.room);
        break;
      }
    }
  },
});
