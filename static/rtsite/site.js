/*
 * Small things every page shares:
 *  - localTime(iso): a time in the viewer's zone and locale; every
 *    <time data-local-time> the server rendered (in UTC) is shown that way too;
 *  - disclosure buttons ([data-disclosure] with aria-controls): the phone layout's menu
 *    and a room's online list. Escape or a click elsewhere closes them.
 */
const FORMAT = {dateStyle: "medium", timeStyle: "short"};

export function localTime(iso) {
  return new Date(iso).toLocaleString([], FORMAT);
}

for (const el of document.querySelectorAll("time[data-local-time]")) {
  el.textContent = localTime(el.dateTime);
}

const toggles = [...document.querySelectorAll("[data-disclosure][aria-controls]")];

function setOpen(toggle, open) {
  const panel = document.getElementById(toggle.getAttribute("aria-controls"));
  if (!panel) return;
  toggle.setAttribute("aria-expanded", String(open));
  panel.classList.toggle("open", open);
}

for (const toggle of toggles) {
  toggle.addEventListener("click", () => setOpen(toggle, toggle.getAttribute("aria-expanded") !== "true"));
}
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const toggle of toggles) {
    if (toggle.getAttribute("aria-expanded") !== "true") continue;
    setOpen(toggle, false);
    toggle.focus();
  }
});
document.addEventListener("click", (event) => {
  for (const toggle of toggles) {
    const panel = document.getElementById(toggle.getAttribute("aria-controls"));
    if (toggle.getAttribute("aria-expanded") === "true" && !toggle.contains(event.target) && panel && !panel.contains(event.target)) {
      setOpen(toggle, false);
    }
  }
});
