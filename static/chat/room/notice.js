/* The room's message line: a refusal or a failure (``showError``), or a confirmation
 * (``showNotice``: a mute given), shown for a while. ``text`` is a whole sentence (the
 * server's refusals are written as such). */
const line = document.getElementById("chat-error");
let timer = null;

function show(text, kind) {
  line.textContent = text;
  line.dataset.kind = kind;
  line.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => (line.hidden = true), 8000);
}

export const showError = (text) => show(text, "error");
export const showNotice = (text) => show(text, "notice");
