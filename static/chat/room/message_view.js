/*
 * One message as a list item: author, time, the quote of the message it replies to,
 * text (chat/text.js: never parsed as HTML), "(edited)", its files (attachments.js),
 * reactions and the viewer's actions.
 */
import {personButton} from "../person_menu.js";
import * as ChatText from "../text.js";
import {renderAttachments} from "./attachments.js";
import {renderActions, renderReactions} from "./message_actions.js";
import {renderQuote} from "./replies.js";
import {isMine, viewer} from "./viewer.js";

function timeElement(iso) {
  const date = new Date(iso);
  const time = document.createElement("time");
  time.dateTime = iso;
  time.title = ChatText.fullLabel(date);
  const visible = document.createElement("span");
  visible.setAttribute("aria-hidden", "true");
  visible.textContent = ChatText.timeLabel(date);
  const spoken = document.createElement("span");
  spoken.className = "visually-hidden";
  spoken.textContent = ChatText.fullLabel(date);
  time.append(visible, spoken);
  return time;
}

export function renderMessage(message) {
  const li = document.createElement("li");
  li.className = "message";
  li.dataset.id = message.id;
  li.dataset.seq = message.seq;
  li.dataset.author = message.author.username;
  li.dataset.at = message.created_at;
  li.id = "m" + message.id; // mention notifications and search results link here
  if (isMine(message)) li.classList.add("mine");
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = personButton(message.author, "author");
  meta.append(author, " ", timeElement(message.created_at));
  if (message.edited_at) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = "(edited)";
    edited.title = "Edited " + ChatText.fullLabel(new Date(message.edited_at));
    meta.append(" ", edited);
  }
  const body = document.createElement("div");
  body.className = "body";
  body.dir = "auto";
  body.append(ChatText.render(message.body, viewer.me));
  if (viewer.me && body.querySelector(".mention.me")) li.classList.add("mentions-me");
  // A mention opens the person's menu too (by keyboard as well).
  for (const mention of body.querySelectorAll(".mention:not(.me)")) {
    mention.dataset.person = mention.textContent.replace(/^@/, "");
    mention.setAttribute("role", "button");
    mention.tabIndex = 0;
  }
  if (!message.body) body.hidden = true; // files only
  const files = message.attachments && message.attachments.length ? [renderAttachments(message)] : [];
  li.append(meta);
  if (message.reply) li.append(renderQuote(message.reply));
  li.append(body, ...files, renderReactions(message), renderActions(message, li));
  if (viewer.blocked.includes(message.author.id)) foldBlocked(li);
  // Without a pointer that hovers (a phone), a tap on the message shows its actions.
  li.addEventListener("click", (event) => {
    if (event.target.closest("a, button, textarea, form")) return;
    li.classList.toggle("show-actions");
  });
  return li;
}

// A message of someone the viewer blocked: folded, with a button to show it once.
function foldBlocked(li) {
  li.classList.add("blocked");
  li.classList.remove("mentions-me"); // a blocked person's mention is not a call to the viewer
  const note = document.createElement("p");
  note.className = "blocked-note";
  note.append("A message from someone you blocked. ");
  const show = document.createElement("button");
  show.type = "button";
  show.className = "link";
  show.textContent = "Show it";
  show.addEventListener("click", () => {
    li.classList.add("shown");
    note.remove();
  });
  note.append(show);
  li.querySelector(".meta").after(note);
}
