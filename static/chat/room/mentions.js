/*
 * "@" in the composer offers the names of people in the room (online, or seen on
 * messages), by keyboard or pointer. mentionQuery and matchingNames are pure.
 */

const MAX_OFFERED = 8;

/** The "@name" being typed before the caret: {text, start} (start: where the name
 * begins), or null. */
export function mentionQuery(value, caret) {
  const before = value.slice(0, caret);
  const match = /(?:^|[^\p{L}\p{N}_@.+-])@([\p{L}\p{N}_.+-]*)$/u.exec(before);
  if (!match) return null;
  return {text: match[1], start: caret - match[1].length};
}

/** The names to offer for ``text``: those it starts (any case), not the viewer's own,
 * each once, in order, at most MAX_OFFERED. */
export function matchingNames(names, text, myName) {
  const unique = new Set(names);
  if (myName) unique.delete(myName);
  const prefix = text.toLowerCase();
  return [...unique]
    .filter((name) => name.toLowerCase().startsWith(prefix))
    .sort((a, b) => a.localeCompare(b))
    .slice(0, MAX_OFFERED);
}

/**
 * The listbox under ``input``. ``names()`` gives the candidates and ``myName()`` the
 * viewer's. Returns {update, key, close}: update after input, key(event) for a keydown
 * (true if the list took it).
 */
export function mentionBox(input, listbox, names, myName) {
  const state = {open: false, items: [], active: 0, start: 0};

  function update() {
    const query = mentionQuery(input.value, input.selectionStart);
    if (!query) return close();
    const items = matchingNames(names(), query.text, myName());
    if (!items.length) return close();
    state.open = true;
    state.items = items;
    state.start = query.start;
    state.active = Math.min(state.active, items.length - 1);
    listbox.replaceChildren(
      ...items.map((name, i) => {
        const option = document.createElement("li");
        option.id = "mention-" + i;
        option.setAttribute("role", "option");
        option.textContent = "@" + name;
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          pick(i);
        });
        return option;
      }),
    );
    listbox.hidden = false;
    highlight();
  }

  function highlight() {
    listbox.querySelectorAll("[role=option]").forEach((option, i) => {
      option.setAttribute("aria-selected", String(i === state.active));
    });
    input.setAttribute("aria-activedescendant", "mention-" + state.active);
  }

  function close() {
    state.open = false;
    state.active = 0;
    listbox.hidden = true;
    input.removeAttribute("aria-activedescendant");
  }

  function pick(i) {
    const name = state.items[i];
    const caret = input.selectionStart;
    const text = input.value;
    input.value = text.slice(0, state.start) + name + " " + text.slice(caret);
    const at = state.start + name.length + 1;
    input.setSelectionRange(at, at);
    close();
    input.focus();
  }

  function key(event) {
    if (!state.open) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      state.active = (state.active + step + state.items.length) % state.items.length;
      highlight();
    } else if (event.key === "Enter" || event.key === "Tab") {
      pick(state.active);
    } else if (event.key === "Escape") {
      close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  return {update, key, close};
}
