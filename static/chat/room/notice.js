/* The room's error line: a refusal or a failure, shown for a while. */
const errorLine = document.getElementById("chat-error");
let errorTimer = null;

export function showError(text) {
  errorLine.textContent = text.charAt(0).toUpperCase() + text.slice(1) + ".";
  errorLine.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (errorLine.hidden = true), 8000);
}
