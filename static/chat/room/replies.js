/*
 * Replies on the page: the quote a reply shows (its original's author and first line,
 * a link that shows the original in context; "deleted" once it is), kept current as
 * the page hears of the original's edits and deletion (quotes.js), and the composer's
 * quote bar told of them too. Text only as text.
 */
import {quoteStore} from "./quotes.js";
import {LIMITS} from "../../realtime/protocol.js";

const store = quoteStore(LIMITS.REPLY_QUOTE_MAX);
const listeners = new Set(); // called with an original's id when its quote changed

export const latestQuote = (id) => store.latest(id);
export const onQuoteChange = (listener) => listeners.add(listener);

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

// The quote on a reply in the timeline; room.js follows its link (in context).
export function renderQuote(reply) {
  const quote = store.current(reply);
  if (quote.deleted) {
    const gone = document.createElement("p");
    gone.className = "reply-quote deleted";
    gone.dataset.replyTo = quote.id;
    gone.textContent = "In reply to a deleted message.";
    return gone;
  }
  const link = document.createElement("a");
  link.className = "reply-quote";
  link.href = "#m" + quote.id;
  link.dataset.replyTo = quote.id;
  const text = span("reply-text", quote.text);
  text.dir = "auto";
  text.title = quote.text; // cut with an ellipsis when long: the whole line on hover
  link.append(span("visually-hidden", "In reply to "), span("reply-author", quote.author.username));
  link.append(span("visually-hidden", ": "), " ", text);
  return link;
}

function changed(id) {
  const quote = store.latest(id);
  for (const old of document.querySelectorAll('.reply-quote[data-reply-to="' + id + '"]')) {
    old.replaceWith(renderQuote(quote));
  }
  for (const listener of listeners) listener(id);
}

// A message as stored now (shown or not): the quotes of replies to it follow.
export function noteMessage(message) {
  if (store.noteMessage(message)) changed(message.id);
}

export function noteDeleted(ids) {
  for (const id of ids) if (store.noteDeleted(id)) changed(id);
}
