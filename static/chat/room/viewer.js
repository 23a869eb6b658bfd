/*
 * Who reads the room and what they may do, as the server last said (sync, muted).
 * Pure: no DOM.
 */
import {LIMITS} from "../../realtime/protocol.js";

export const viewer = {
  me: null, // {id, username}, or null for a visitor
  // Until the first sync: the page's config says the room's real length limit.
  limits: {max_length: LIMITS.BODY_TRANSPORT_LIMIT, typing_timeout_ms: 5000, edit_window_s: 0, reactions: []},
  muted: false,
  role: null, // "owner", "moderator", "member", or null (not a member)
  manages: false, // may invite, remove, edit the room and delete others' messages
  blocked: [], // ids of the people the viewer blocked: their messages are folded away
};

export function isMine(message) {
  return viewer.me !== null && message.author.id === viewer.me.id;
}

// Whether the viewer may still edit ``message`` at ``now`` (ms): their own, young enough.
export function mayEdit(message, now) {
  const age = now - new Date(message.created_at).getTime();
  return isMine(message) && age < viewer.limits.edit_window_s * 1000;
}
