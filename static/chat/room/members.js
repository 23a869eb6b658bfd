/*
 * Membership on the room page: the viewer's role, a private room's members (live), the
 * invite form and remove buttons for its owners and moderators, the room's topic and
 * description (editable by them), leaving, and the page closing when the viewer is no
 * longer a member.
 */
import {CLIENT} from "../../realtime/protocol.js";
import {personButton} from "../person_menu.js";
import {ROLE_NAMES, manages, ordered} from "./roles.js";
import {refused, request} from "./socket.js";
import {viewer} from "./viewer.js";

const section = document.getElementById("members-section");
const list = document.getElementById("members");
const count = document.getElementById("members-count");
const inviteForm = document.getElementById("invite-form");
const editOpen = document.getElementById("room-edit-open");
const editForm = document.getElementById("room-edit");
const leaveButton = document.getElementById("room-leave");

let room = null; // the room as the last sync or room.updated said
const members = new Map(); // user id -> {id, username, role, through_group}
let total = 0;


function renderMembers() {
  list.replaceChildren();
  for (const member of ordered(members.values())) {
    const li = document.createElement("li");
    li.append(personButton(member));
    if (member.role !== "member") {
      const role = document.createElement("span");
      role.className = "role";
      role.textContent = ROLE_NAMES[member.role];
      li.append(role);
    }
    const mine = viewer.me && member.id === viewer.me.id;
    if (viewer.manages && !mine && !member.through_group) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary remove";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove " + member.username + " from the room");
      remove.addEventListener("click", () => {
        request({type: CLIENT.MEMBER_REMOVE, username: member.username}).catch(refused);
      });
      li.append(remove);
    }
    list.append(li);
  }
  count.textContent = String(total);
}

function renderRoom() {
  const topic = document.getElementById("room-topic");
  const description = document.getElementById("room-description");
  topic.textContent = room.topic;
  topic.hidden = !room.topic;
  description.textContent = room.description;
  description.hidden = !room.description;
}

function renderControls() {
  const member = viewer.role !== null;
  section.hidden = !room.private;
  if (inviteForm) {
    inviteForm.hidden = !viewer.manages;
    // Only owners give roles above member.
    for (const option of inviteForm.querySelectorAll("option")) {
      option.hidden = option.value !== "member" && viewer.role !== "owner";
    }
  }
  if (editOpen) editOpen.hidden = !viewer.manages;
  // A direct conversation is between its members: none leaves it.
  if (leaveButton) leaveButton.hidden = !viewer.me || (room.private && !member) || room.kind === "direct";
}

export function onSync(frame) {
  room = frame.room;
  viewer.role = frame.role;
  viewer.manages = frame.manages;
  renderRoom();
  renderControls();
  if (room.private) {
    request({type: CLIENT.MEMBERS})
      .then((reply) => {
        members.clear();
        for (const member of reply.members) members.set(member.id, member);
        total = reply.count;
        renderMembers();
      })
      .catch(refused);
  }
}

export function onMember(frame) {
  const known = members.get(frame.user.id);
  if (frame.role === null) {
    if (known) total -= 1;
    members.delete(frame.user.id);
  } else {
    if (!known) total += 1;
    members.set(frame.user.id, {...frame.user, role: frame.role, through_group: known ? known.through_group : false});
  }
  if (viewer.me && frame.user.id === viewer.me.id) {
    viewer.role = frame.role;
    viewer.manages = manages(frame.role);
    renderControls();
  }
  renderMembers();
}

export function onRoomUpdated(frame) {
  room = frame.room;
  renderRoom();
}

// The viewer is no longer a member: the room closes on this page.
export function onRemoved(frame) {
  document.querySelector(".message-pane").hidden = true;
  document.getElementById("composer")?.setAttribute("hidden", "");
  document.querySelector(".composer-foot")?.setAttribute("hidden", "");
  section.hidden = true;
  // Nothing of the room stays: who is in it, its search, its settings.
  document.getElementById("people").hidden = true;
  document.getElementById("room-details").hidden = true;
  document.querySelector(".online-toggle").hidden = true;
  document.querySelector(".room-details-toggle").hidden = true;
  const note = document.getElementById("room-closed");
  document.getElementById("room-closed-text").textContent = frame.message;
  note.hidden = false;
}

function wireForms() {
  inviteForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = document.getElementById("invite-name");
    const role = document.getElementById("invite-role").value;
    const username = name.value.trim().replace(/^@/, "");
    if (!username) return;
    request({type: CLIENT.MEMBER_INVITE, username: username, role: role})
      .then(() => (name.value = ""))
      .catch(refused);
  });
  editOpen?.addEventListener("click", () => {
    document.getElementById("room-edit-topic").value = room.topic;
    document.getElementById("room-edit-description").value = room.description;
    editForm.hidden = false;
    editOpen.hidden = true;
    document.getElementById("room-edit-topic").focus();
  });
  const closeEdit = () => {
    editForm.hidden = true;
    editOpen.hidden = !viewer.manages;
    editOpen.focus();
  };
  document.getElementById("room-edit-cancel")?.addEventListener("click", closeEdit);
  editForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    const topic = document.getElementById("room-edit-topic").value;
    const description = document.getElementById("room-edit-description").value;
    request({type: CLIENT.ROOM_EDIT, topic: topic, description: description}).then(closeEdit).catch(refused);
  });
  leaveButton?.addEventListener("click", () => {
    request({type: CLIENT.ROOM_LEAVE, slug: room.slug})
      .then(() => {
        if (!room.private) window.location.assign(leaveButton.dataset.next || "/chat/");
      })
      .catch(refused);
  });
}

wireForms();
