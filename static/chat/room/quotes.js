/*
 * What a reply shows of its original, kept current. A reply carries its original's
 * quote as the server read it ({id, seq, author, text, deleted}); the page then hears
 * of the original's edits and deletion by itself (message.updated, message.deleted, a
 * resume's changed messages and deleted ids), whether the original is shown or not.
 * The store keeps the newest state of each original it has heard of (a higher seq
 * wins; a deletion is final). Pure: no DOM.
 */
import {quoteLine} from "../text.js";

export function quoteStore(max) {
  const known = new Map(); // original id -> {seq, author, text, deleted}

  // ``state`` for ``id`` if it is newer than what is known: true if it changed. Any
  // deletion wins (a pruned original's quote says deleted with no seq of its own).
  function learn(id, state) {
    const old = known.get(id);
    if (old && (old.deleted || (!state.deleted && old.seq >= state.seq))) return false;
    known.set(id, state);
    return true;
  }

  return {
    /** The newest known quote of original ``id`` ({id, seq, author, text, deleted}),
     * or null. */
    latest(id) {
      const state = known.get(id);
      return state ? {id, ...state} : null;
    },
    /** The quote to show for a reply's ``reply`` part: the newest known. */
    current(reply) {
      learn(reply.id, {seq: reply.seq, author: reply.author, text: reply.text, deleted: reply.deleted});
      return {id: reply.id, ...known.get(reply.id)};
    },
    /** A message as stored now (it may be some reply's original): true if a quote of
     * it was known and changed (a quote not yet known is shown by nothing). */
    noteMessage(message) {
      const before = known.has(message.id);
      const text = quoteLine(message.body, max);
      return learn(message.id, {seq: message.seq, author: message.author, text, deleted: false}) && before;
    },
    /** A message was deleted: true if some quote had it as not deleted. */
    noteDeleted(id) {
      const old = known.get(id);
      if (old && old.deleted) return false;
      known.set(id, {seq: Infinity, author: null, text: "", deleted: true});
      return old !== undefined;
    },
  };
}
