/*
 * A person's name, wherever the chat pages show it (a message's author, the online and
 * member lists, a mention), opens a small menu: write to them directly, or block or
 * unblock them. ``blocked()`` says whom the viewer blocks now; ``request`` sends a frame
 * on the page's socket and resolves with the reply; ``more(name)``, if given, adds
 * items ({text, action}) of the page's own (a room's moderators mute).
 */
import {CLIENT} from "../realtime/protocol.js";

let menu = null;
let opener = null;

function close({focus = true} = {}) {
  if (!menu) return;
  menu.remove();
  menu = null;
  if (focus) opener?.focus();
  opener = null;
}

// The element for a name: a button, so it is reached and opened by keyboard too.
export function personButton(user, className = "") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = ("person " + className).trim();
  button.dataset.person = user.username;
  button.dataset.personId = String(user.id);
  button.textContent = user.username;
  button.setAttribute("aria-haspopup", "menu");
  return button;
}

function item(text, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.setAttribute("role", "menuitem");
  button.textContent = text;
  button.addEventListener("click", () => {
    close();
    action();
  });
  return button;
}

function open(target, options) {
  close({focus: false});
  const name = target.dataset.person;
  const id = Number(target.dataset.personId);
  opener = target;
  menu = document.createElement("div");
  menu.className = "person-menu";
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", name);
  const title = document.createElement("p");
  title.textContent = name;
  menu.append(title);
  menu.append(
    item("Send a direct message", () => {
      options
        .request({type: CLIENT.DIRECT_OPEN, usernames: name})
        .then((reply) => window.location.assign(reply.url))
        .catch(options.refused);
    }),
  );
  const isBlocked = options.blocked().includes(id);
  menu.append(
    item(isBlocked ? "Unblock " + name : "Block " + name, () => {
      options.request({type: CLIENT.USER_BLOCK, username: name, blocked: !isBlocked}).catch(options.refused);
    }),
  );
  for (const extra of options.more ? options.more(name) : []) menu.append(item(extra.text, extra.action));
  document.body.append(menu);
  const box = target.getBoundingClientRect();
  const left = Math.min(box.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - menu.offsetWidth - 8);
  menu.style.left = Math.max(8, left) + "px";
  menu.style.top = box.bottom + window.scrollY + 4 + "px";
  menu.querySelector("button").focus();
  menu.addEventListener("keydown", (event) => {
    const buttons = [...menu.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "Escape") close();
    else if (event.key === "ArrowDown") buttons[(at + 1) % buttons.length].focus();
    else if (event.key === "ArrowUp") buttons[(at - 1 + buttons.length) % buttons.length].focus();
    else return;
    event.preventDefault();
  });
}

// Names are opened from anywhere on the page (a click or Enter on a [data-person]);
// the viewer's own name opens nothing.
export function startPersonMenu(options) {
  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-person]");
    if (target && options.me() && target.dataset.person !== options.me().username) {
      event.preventDefault();
      event.stopPropagation();
      if (opener === target) close();
      else open(target, options);
    } else if (menu && !event.target.closest(".person-menu")) {
      close({focus: false});
    }
  });
  document.addEventListener("keydown", (event) => {
    const target = event.target.closest?.("[data-person][role=button]");
    if (target && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      target.click();
    }
  });
}
