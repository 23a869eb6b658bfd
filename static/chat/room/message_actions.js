/*
 * What a reader does to a message: reply (the composer quotes it), react (the buttons
 * under it, and a picker of the room's emoji), and for its author edit (within the
 * window) and delete (after a confirmation). Each is a request; a refusal shows on the
 * error line.
 */
import {replyTo} from "./composer.js";
import {nextIndex} from "./roving.js";
import {refused, request} from "./socket.js";
import {isMine, mayEdit, viewer} from "./viewer.js";
import {CLIENT} from "../../realtime/protocol.js";

function actionButton(text, className = "action") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = text;
  return button;
}

export function renderReactions(message) {
  const row = document.createElement("div");
  row.className = "reactions";
  for (const reaction of message.reactions) {
    const button = actionButton("", "reaction");
    const mine = viewer.me !== null && reaction.users.some((user) => user.id === viewer.me.id);
    button.setAttribute("aria-pressed", String(mine));
    const names = reaction.users.map((user) => user.username);
    button.title = names.join(", ") + " reacted with " + reaction.emoji;
    button.setAttribute("aria-label", reaction.emoji + " " + names.length + ": " + names.join(", "));
    button.textContent = reaction.emoji + " " + names.length;
    button.dataset.emoji = reaction.emoji;
    button.disabled = !viewer.me || viewer.muted;
    button.addEventListener("click", () => react(message.id, reaction.emoji));
    row.append(button);
  }
  return row;
}

// ``li`` is the message's item (an edit form opens in it).
export function renderActions(message, li) {
  const actions = document.createElement("div");
  actions.className = "actions";
  if (!viewer.me) return actions;
  const reply = actionButton("Reply", "action reply-action");
  reply.disabled = viewer.muted;
  reply.addEventListener("click", () => replyTo(message));
  actions.append(reply);
  const reactButton = actionButton("React");
  reactButton.setAttribute("aria-expanded", "false");
  reactButton.addEventListener("click", () => togglePicker(message.id, reactButton));
  actions.append(reactButton);
  if (isMine(message) && mayEdit(message, Date.now())) {
    const edit = actionButton("Edit");
    edit.addEventListener("click", () => startEdit(message, li));
    actions.append(edit);
  }
  // The room's owners and moderators delete anyone's messages.
  if (isMine(message) || viewer.manages) {
    const remove = actionButton("Delete");
    remove.addEventListener("click", () => confirmDelete(message.id, actions));
    actions.append(remove);
  }
  return actions;
}

function react(id, emoji) {
  request({type: CLIENT.REACTION_TOGGLE, id: id, emoji: emoji}).catch(refused);
}

function togglePicker(id, button) {
  const actions = button.parentElement;
  const open = actions.querySelector(".picker");
  if (open) {
    open.remove();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const picker = document.createElement("div");
  picker.className = "picker";
  // A toolbar: Tab reaches it once, the arrow keys move between the emoji.
  picker.setAttribute("role", "toolbar");
  picker.setAttribute("aria-label", "Reactions");
  const close = () => {
    picker.remove();
    button.setAttribute("aria-expanded", "false");
    button.focus();
  };
  for (const emoji of viewer.limits.reactions) {
    const choice = document.createElement("button");
    choice.type = "button";
    choice.textContent = emoji;
    choice.setAttribute("aria-label", "React with " + emoji);
    choice.tabIndex = picker.childElementCount === 0 ? 0 : -1;
    choice.addEventListener("click", () => {
      react(id, emoji);
      close();
    });
    picker.append(choice);
  }
  picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    const choices = [...picker.querySelectorAll("button")];
    const to = nextIndex(event.key, choices.indexOf(document.activeElement), choices.length);
    if (to === null) return;
    event.preventDefault();
    for (const [index, choice] of choices.entries()) choice.tabIndex = index === to ? 0 : -1;
    choices[to].focus();
  });
  actions.append(picker);
  button.setAttribute("aria-expanded", "true");
  picker.querySelector("button").focus();
}

function confirmDelete(id, actions) {
  if (actions.querySelector(".confirm")) return;
  const confirm = document.createElement("span");
  confirm.className = "confirm";
  confirm.append("Delete this message? ");
  const yes = actionButton("Delete", "action danger");
  yes.addEventListener("click", () => {
    request({type: CLIENT.MESSAGE_DELETE, id: id}).catch(refused);
    confirm.remove();
  });
  const no = actionButton("Keep");
  no.addEventListener("click", () => confirm.remove());
  confirm.append(yes, " ", no);
  actions.append(confirm);
  no.focus();
}

// ``returnTo``: where focus goes back when the edit closes (the composer, after Up).
export function startEdit(message, li, returnTo = null) {
  if (li.querySelector(".edit-form")) return;
  const id = message.id;
  const form = document.createElement("form");
  form.className = "edit-form";
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.htmlFor = "edit-" + id;
  label.textContent = "Edit your message";
  const area = document.createElement("textarea");
  area.id = "edit-" + id;
  area.rows = 2;
  area.value = message.body;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = actionButton("Cancel", "secondary");
  form.append(label, area, save, cancel);
  const close = () => {
    form.remove();
    li.classList.remove("editing");
    if (returnTo) returnTo.focus();
  };
  cancel.addEventListener("click", close);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = area.value.trim();
    if (!body || body === message.body) {
      close();
      return;
    }
    request({type: CLIENT.MESSAGE_EDIT, id: id, body: body}).then(close, refused);
  });
  li.classList.add("editing");
  li.querySelector(".body").after(form);
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
  form.scrollIntoView({block: "nearest"});
}
