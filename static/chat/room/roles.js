/*
 * Roles in a room, as the server names them (chat/roles.py decides; the page only
 * shows). Pure: no DOM.
 */
export const ROLE_NAMES = {owner: "Owner", moderator: "Moderator", member: "Member"};
const ORDER = {owner: 0, moderator: 1, member: 2};

// The members in the order the server lists them: owners first, then by name.
export function ordered(entries) {
  return [...entries].sort((a, b) => ORDER[a.role] - ORDER[b.role] || a.username.localeCompare(b.username));
}

// Whether a role manages the room (what a ``member`` frame about the viewer implies).
export const manages = (role) => role === "owner" || role === "moderator";
