/* The arenas' admin list refreshes itself every few seconds (players, owner process and
 * tick lag are as of the page load), unless staff are in the middle of something: a row
 * selected, a field focused, or the action menu open. */
(function () {
  "use strict";
  const REFRESH_MS = 5000;
  const list = document.getElementById("changelist");
  if (!list) return;
  setInterval(() => {
    const busy =
      list.querySelector("input.action-select:checked, #action-toggle:checked") ||
      (document.activeElement && document.activeElement.matches("input, select, textarea"));
    if (!busy && document.visibilityState === "visible") location.reload();
  }, REFRESH_MS);
})();
