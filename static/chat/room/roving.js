/*
 * Arrow keys through a row of buttons (a toolbar, WAI-ARIA's "roving tabindex"): Tab
 * reaches the row once, the arrows move within it, Home and End go to its ends. Pure.
 */

/** The index focus moves to from ``index`` of ``count`` on ``key``, or null (not ours). */
export function nextIndex(key, index, count) {
  switch (key) {
    case "ArrowRight":
    case "ArrowDown":
      return (index + 1) % count;
    case "ArrowLeft":
    case "ArrowUp":
      return (index - 1 + count) % count;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}
