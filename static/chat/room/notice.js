/* The room's error line: a refusal or a failure, shown for a while. ``text`` is a
 * whole sentence (the server's refusals are written as such). */
const errorLine = document.getElementById("chat-error");
let errorTimer = null;

export function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (errorLine.hidden = true), 8000);
}
