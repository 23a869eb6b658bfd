/*
 * Files attached to the message being written: chosen with the Attach button, dropped
 * on the room or pasted into the box. Each is checked (upload_checks.js), then uploaded
 * at once with XMLHttpRequest (fetch reports no upload progress) to the room's upload
 * address, with a progress bar and a Cancel button; the message sends the ids of those
 * uploaded. A refused file says why, in the composer's status line.
 */
import {fileSize, refusal} from "./upload_checks.js";

const $ = (id) => document.getElementById(id);
const list = $("composer-uploads");
const config = JSON.parse($("chat-config").textContent).upload;

let items = []; // {file, state: "uploading" | "done" | "failed", xhr, li, attachment, preview}
let onChange = () => {};
let say = () => {};

// ``changed()`` runs whenever the list changes; ``status(text, kind)`` shows a refusal.
export function start(changed, status) {
  onChange = changed;
  say = status;
}

export const uploading = () => items.some((item) => item.state === "uploading");
export const failed = () => items.some((item) => item.state === "failed");
export const count = () => items.length;
export const readyIds = () => items.filter((item) => item.state === "done").map((item) => item.attachment.id);

export function add(files) {
  for (const file of files) {
    const why = refusal(file, config, items.length);
    if (why) {
      say(why, "error");
      continue;
    }
    const item = {file, state: "uploading", xhr: null, li: null, attachment: null, preview: null};
    items.push(item);
    item.li = renderItem(item);
    list.append(item.li);
    send(item);
  }
  render();
}

// The message was sent with them: the list starts again.
export function clearSent(ids) {
  for (const item of [...items]) {
    if (item.attachment && ids.includes(item.attachment.id)) drop(item);
  }
  render();
}

function send(item) {
  const xhr = new XMLHttpRequest();
  item.xhr = xhr;
  const form = new FormData();
  form.append("file", item.file, item.file.name);
  xhr.open("POST", config.url);
  xhr.setRequestHeader("X-CSRFToken", config.csrfToken);
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) setProgress(item, event.loaded / event.total);
  });
  xhr.addEventListener("load", () => {
    const reply = xhr.response || {};
    if (xhr.status === 201 && reply.attachment) {
      item.state = "done";
      item.attachment = reply.attachment;
    } else if (!reply.error && xhr.status === 413) {
      fail(item, "This file is too big. The limit is " + config.limitText + "."); // said by a proxy
    } else {
      fail(item, reply.error || "The upload failed. Try again.");
    }
    renderState(item);
    render();
  });
  xhr.addEventListener("error", () => {
    fail(item, "The upload failed: check your connection, then try again.");
    renderState(item);
    render();
  });
  xhr.send(form);
}

function fail(item, why) {
  item.state = "failed";
  item.error = why;
}

function drop(item) {
  if (item.state === "uploading") item.xhr.abort();
  if (item.preview) URL.revokeObjectURL(item.preview);
  item.li.remove();
  items = items.filter((other) => other !== item);
}

function render() {
  list.hidden = items.length === 0;
  onChange();
}

function renderItem(item) {
  const li = document.createElement("li");
  li.className = "upload";
  if (item.file.type.startsWith("image/") && config.types.includes(item.file.type)) {
    item.preview = URL.createObjectURL(item.file);
    const img = document.createElement("img");
    img.src = item.preview;
    img.alt = "";
    img.width = 40;
    img.height = 40;
    img.className = "upload-preview";
    li.append(img);
  }
  const text = document.createElement("div");
  text.className = "upload-text";
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = item.file.name;
  name.title = item.file.name;
  // Says "ready" or why not, once, to a screen reader too (the bar shows the progress).
  const detail = document.createElement("span");
  detail.className = "upload-detail";
  detail.setAttribute("aria-live", "polite");
  const progress = document.createElement("progress");
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute("aria-label", "Uploading " + item.file.name);
  text.append(name, detail, progress);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link upload-cancel";
  button.addEventListener("click", () => {
    drop(item);
    render();
    $("composer-body").focus();
  });
  li.append(text, button);
  item.parts = {detail, progress, button};
  renderState(item, li);
  return li;
}

function setProgress(item, fraction) {
  item.parts.progress.value = fraction;
  item.parts.progress.title = Math.floor(fraction * 100) + "%";
}

function renderState(item, li = item.li) {
  const {detail, progress, button} = item.parts;
  li.dataset.state = item.state;
  progress.hidden = item.state !== "uploading";
  if (item.state === "uploading") {
    detail.textContent = fileSize(item.file.size) + " · uploading";
    button.textContent = "Cancel";
    button.setAttribute("aria-label", "Cancel the upload of " + item.file.name);
  } else if (item.state === "done") {
    detail.textContent = fileSize(item.attachment.size) + " · ready";
    button.textContent = "Remove";
    button.setAttribute("aria-label", "Remove " + item.file.name);
  } else {
    detail.textContent = item.error;
    detail.classList.add("upload-error");
    button.textContent = "Remove";
    button.setAttribute("aria-label", "Remove " + item.file.name);
  }
}

// Files dropped anywhere on the room's column, or pasted into the box.
export function watch(dropZone, input) {
  const note = $("drop-note");
  let depth = 0; // dragenter/dragleave pairs, children included
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  const show = (on) => {
    dropZone.classList.toggle("dropping", on);
    note.hidden = !on;
  };
  dropZone.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    show(true);
  });
  dropZone.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  dropZone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) show(false);
  });
  dropZone.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    show(false);
    if (!input.disabled) add([...event.dataTransfer.files]);
  });
  // A file dropped just beside the room must not replace the page (and the text written).
  for (const kind of ["dragover", "drop"]) {
    document.addEventListener(kind, (event) => {
      if (hasFiles(event) && !dropZone.contains(event.target)) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "none";
      }
    });
  }
  input.addEventListener("paste", (event) => {
    const files = event.clipboardData ? [...event.clipboardData.files] : [];
    if (files.length === 0) return;
    // A screenshot is files only; a copied piece of a page may carry its text too.
    if (![...event.clipboardData.types].includes("text/plain")) event.preventDefault();
    add(files);
  });
}
