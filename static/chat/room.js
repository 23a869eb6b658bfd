/*
 * A chat room page: history by day, live messages, edits, deletions, reactions, read
 * state, presence, typing, and a composer that never throws text away.
 *
 * This module wires the page: each frame type goes to the part whose job it is
 * (room/*.js), and the page's controls to theirs.
 */
import * as composer from "./room/composer.js";
import * as members from "./room/members.js";
import {startPersonMenu} from "./person_menu.js";
import * as roomHistory from "./room/history.js";
import {startEdit} from "./room/message_actions.js";
import {lapseTimer} from "./room/mute_lapse.js";
import {showError, showNotice} from "./room/notice.js";
import * as presence from "./room/presence.js";
import * as read from "./room/read_state.js";
import * as replies from "./room/replies.js";
import * as socket from "./room/socket.js";
import * as timeline from "./room/timeline.js";
import {mayEdit, viewer} from "./room/viewer.js";
import {CLIENT, CLOSE, SERVER} from "../realtime/protocol.js";

const config = JSON.parse(document.getElementById("chat-config").textContent);
viewer.limits.max_length = config.maxLength;

const untilLapsed = lapseTimer();

// ``expiresIn``: ms until the mute lapses by itself (null: until staff lift it).
function setMuted(muted, expiresIn = null) {
  viewer.muted = muted;
  composer.renderMuted();
  timeline.renderReactionsAllowed();
  untilLapsed(muted ? expiresIn : null, () => setMuted(false));
}

const handlers = {
  [SERVER.SYNC](frame) {
    viewer.me = frame.me;
    viewer.limits = frame.limits;
    setMuted(frame.muted, frame.mute_expires_in);
    viewer.blocked = frame.blocked;
    members.onSync(frame);
    roomHistory.onSync(frame);
  },
  [SERVER.MESSAGE](frame) {
    socket.seenInOrder(frame.message.seq);
    timeline.addLive([frame.message]);
    read.noteRead();
    presence.stopTyping(frame.message.author.username);
  },
  [SERVER.MESSAGE_UPDATED](frame) {
    socket.seenInOrder(frame.message.seq);
    replies.noteMessage(frame.message); // shown or not, replies to it may be
    if (timeline.has(frame.message.id)) timeline.upsert(frame.message);
  },
  [SERVER.MESSAGE_DELETED](frame) {
    socket.seenInOrder(frame.seq, frame.ids.length); // one step per message deleted
    for (const id of frame.ids) timeline.remove(id);
    replies.noteDeleted(frame.ids);
    timeline.relayout();
    read.renderTitle();
  },
  [SERVER.HISTORY]: roomHistory.onHistory,
  [SERVER.NEWER]: roomHistory.onNewer,
  [SERVER.CONTEXT]: roomHistory.onContext,
  [SERVER.READ](frame) {
    if (frame.room === config.slug) read.heardRead(frame.last_read_id);
  },
  [SERVER.MUTED](frame) {
    if (frame.room === config.slug) setMuted(frame.muted, frame.expires_in);
  },
  [SERVER.PRESENCE]: presence.onPresence,
  [SERVER.MEMBER]: members.onMember,
  [SERVER.BLOCKS](frame) {
    viewer.blocked = frame.ids;
    timeline.rerenderAll();
  },
  [SERVER.ROOM_UPDATED]: members.onRoomUpdated,
  [SERVER.REMOVED](frame) {
    composer.disable();
    members.onRemoved(frame);
  },
  [SERVER.TYPING](frame) {
    if (!viewer.me || frame.user.id !== viewer.me.id) presence.onTyping(frame.user, frame.expires_in);
  },
  [SERVER.ERROR](frame) {
    showError(frame.message);
  },
};

function closed(code) {
  composer.disable();
  if (code === CLOSE.LOGGED_OUT) return; // logged out: live.js says so for the whole page
  if (code === CLOSE.REMOVED) return; // the ``removed`` frame said why
  showError(code === CLOSE.NOT_FOUND ? "This room no longer exists." : "You cannot view this room.");
}

document.getElementById("load-older").addEventListener("click", roomHistory.loadOlder);
document.getElementById("load-newer").addEventListener("click", roomHistory.loadNewer);
document.getElementById("jump-latest").addEventListener("click", roomHistory.jumpToLatest);
document.getElementById("new-pill").addEventListener("click", () => {
  if (timeline.isGapBelow()) roomHistory.jumpToLatest();
  else timeline.scrollToBottom();
});

// A reply's quote: its original, in context when it is not loaded (a plain click; a
// new tab follows the link itself).
timeline.list.addEventListener("click", (event) => {
  const quote = event.target.closest("a.reply-quote");
  if (!quote || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  history.replaceState(null, "", "#m" + quote.dataset.replyTo);
  roomHistory.showLinked(true);
});

let scrollTimer = null;
timeline.list.addEventListener("scroll", () => {
  if (scrollTimer) return;
  scrollTimer = setTimeout(() => {
    scrollTimer = null;
    timeline.scrolled();
    roomHistory.scrolledNearTop();
    read.noteRead();
  }, 150);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") read.flushRead();
  read.noteRead();
});
window.addEventListener("pagehide", read.flushRead);
// A mention's toast links into the room the reader may already be in.
window.addEventListener("hashchange", () => {
  if (roomHistory.opened()) roomHistory.showLinked();
});
window.addEventListener("focus", read.noteRead);

// Up in the empty composer: the viewer's newest message still in its edit window.
function editLast() {
  let last = null;
  for (const [id, entry] of timeline.entries()) {
    if ((last === null || id > last.id) && mayEdit(entry.message, Date.now())) last = {id, ...entry};
  }
  if (last === null) return false;
  startEdit(last.message, last.li, document.getElementById("composer-body"));
  return true;
}

// A room's owners and moderators mute people from their names too.
function moderation(name) {
  if (!viewer.manages) return [];
  const mute = (muted, minutes) => () =>
    socket
      .request({type: CLIENT.MEMBER_MUTE, username: name, muted: muted, minutes: minutes})
      .then(() => showNotice(muted ? name + " is muted in this room." : name + " may post again."))
      .catch(socket.refused);
  return [
    {text: "Mute " + name + " for an hour", action: mute(true, 60)},
    {text: "Mute " + name + " until lifted", action: mute(true, 0)},
    {text: "Lift " + name + "'s mute", action: mute(false, 0)},
  ];
}

startPersonMenu({
  me: () => viewer.me,
  blocked: () => viewer.blocked,
  request: socket.request,
  refused: socket.refused,
  more: moderation,
});

composer.startComposer(() => [...presence.onlineNames(), ...timeline.authorNames()], editLast);

socket.open("/ws/chat/" + config.slug + "/", {
  onFrame(frame) {
    const handle = Object.hasOwn(handlers, frame.type) ? handlers[frame.type] : null;
    if (handle) handle(frame);
  },
  onClosed: closed,
  onOpen: composer.resendPending,
  // Disconnected, the online list is only what was last known: shown greyed.
  onState: (state) => presence.setStale(state !== "connected"),
});
