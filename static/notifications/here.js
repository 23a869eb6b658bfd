/*
 * Whether a notification points at what the page already shows: a link to a message
 * ("#m<id>") in the room this page is, while the page is visible. The message is on the
 * screen, highlighted; a toast would only cover the page (on a phone, its top bar).
 * Pure: the page's address and visibility are passed in.
 */
export function shownHere(link, location, visibility) {
  if (visibility !== "visible" || !link) return false;
  let url;
  try {
    url = new URL(link, location.href);
  } catch {
    return false;
  }
  return url.origin === location.origin && url.pathname === location.pathname && /^#m\d+$/.test(url.hash);
}
