/*
 * One message as a list item: author, time, text (chat/text.js: never parsed as HTML),
 * "(edited)", reactions and the viewer's actions.
 */
import * as ChatText from "../text.js";
import {renderActions, renderReactions} from "./message_actions.js";
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
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author.username;
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
  li.append(meta, body, renderReactions(message), renderActions(message, li));
  // Without a pointer that hovers (a phone), a tap on the message shows its actions.
  li.addEventListener("click", (event) => {
    if (event.target.closest("a, button, textarea, form")) return;
    li.classList.toggle("show-actions");
  });
  return li;
}
