/* Search results: found words marked (as DOM nodes: the text is never parsed as HTML).
 * Times are shown in the viewer's zone and locale by site.js. */
for (const el of document.querySelectorAll("[data-highlight]")) {
  const words = el.dataset.highlight.split(" ").filter(Boolean);
  if (!words.length) continue;
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp("(" + escaped.join("|") + ")", "giu");
  const text = el.textContent;
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    const mark = document.createElement("mark");
    mark.textContent = match[0];
    parts.push(mark);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  el.replaceChildren(...parts);
}
