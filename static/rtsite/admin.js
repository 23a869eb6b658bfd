/* Mends for Django admin markup that axe-core flags, in one place (docs/decisions.md):
 *  - the two-box picker (SelectFilter2.js) labels its help icons, plain spans, with
 *    aria-label, which needs a role (aria-prohibited-attr): they are images;
 *  - the changelist's search box is labelled only by an icon's alt text, so with a help
 *    text it reads as described but unnamed (label-title-only): it gets the name;
 *  - a date-and-time field's two boxes sit after bare "Date:" / "Time:" text, and the
 *    field's label names neither (label): each gets "Last login: Date" and so on;
 *  - a tabular inline's fields (a room's mutes) sit under column headings, not labels
 *    (label): each is named by its column and its row ("Reason, bob muted in Lobby");
 *  - an autocomplete field (a room's group) is a select2 combobox, a span that the
 *    select's label does not name (aria-input-field-name): it gets the label's words. */
window.addEventListener("load", () => {
  for (const icon of document.querySelectorAll("span.help-tooltip[aria-label]:not([role])")) {
    icon.setAttribute("role", "img");
  }
  const search = document.getElementById("searchbar");
  const icon = document.querySelector('label[for="searchbar"] img[alt]');
  if (search && icon && !search.hasAttribute("aria-label")) search.setAttribute("aria-label", icon.alt);
  for (const input of document.querySelectorAll("p.datetime input[id]")) {
    if (input.labels.length || input.hasAttribute("aria-label")) continue;
    const row = input.closest("p.datetime").parentElement.querySelector("label");
    const part = input.previousSibling && input.previousSibling.textContent.trim();
    input.setAttribute("aria-label", [row && row.textContent.trim(), part].filter(Boolean).join(" "));
  }
  for (const field of document.querySelectorAll(".tabular td input, .tabular td select, .tabular td textarea")) {
    if (field.type === "hidden" || field.labels.length || field.hasAttribute("aria-label")) continue;
    const cell = field.closest("td");
    const heading = cell.closest("table").tHead.rows[0].cells[cell.cellIndex];
    const column = heading && heading.firstChild ? heading.firstChild.textContent.trim() : "";
    const original = cell.parentElement.querySelector("td.original p");
    const row = original ? original.firstChild.textContent.trim() : "";
    field.setAttribute("aria-label", [column, row].filter(Boolean).join(", "));
  }
  nameComboboxes();
  // select2 may build its boxes after this (and for inline rows added later).
  new MutationObserver(nameComboboxes).observe(document.body, {childList: true, subtree: true});
});

function nameComboboxes() {
  for (const select of document.querySelectorAll("select.admin-autocomplete")) {
    const combobox = select.nextElementSibling?.querySelector(".select2-selection[role=combobox]");
    if (!combobox || combobox.hasAttribute("aria-label")) continue;
    const label = select.labels?.length ? select.labels[0].textContent.replace(/:$/, "").trim() : select.getAttribute("aria-label");
    if (!label) continue;
    combobox.setAttribute("aria-label", label);
    combobox.querySelector("[role=textbox]")?.setAttribute("aria-label", label);
  }
}
