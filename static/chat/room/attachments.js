/*
 * A message's files: images as thumbnails (their size given, so nothing below moves
 * when they load) that open full size in a dialog; other files as a named download
 * with their size. Names are text, always.
 */
import {fileSize} from "./upload_checks.js";

const viewer = document.getElementById("image-viewer");
// Thumbnails are shown at most this big (CSS px, the longer side): sharp on a screen of
// 1.5 pixels per px, with a box of 360 (CHAT_THUMBNAIL_SIZE).
const SHOWN_MAX = 240;

export function renderAttachments(message) {
  const list = document.createElement("ul");
  list.className = "attachments";
  for (const file of message.attachments || []) {
    const li = document.createElement("li");
    li.append(file.thumbnail ? imageLink(file) : fileLink(file));
    list.append(li);
  }
  return list;
}

function imageLink(file) {
  const link = document.createElement("a");
  link.className = "attachment-image";
  link.href = file.url;
  link.title = file.name + " (" + fileSize(file.size) + ")";
  const img = document.createElement("img");
  img.src = file.thumbnail;
  // The size it will take, known before it loads: nothing below it moves.
  const scale = Math.min(1, SHOWN_MAX / Math.max(file.thumb_width, file.thumb_height));
  img.width = Math.round(file.thumb_width * scale);
  img.height = Math.round(file.thumb_height * scale);
  img.alt = file.name;
  img.loading = "lazy";
  img.decoding = "async";
  link.append(img);
  // Without the dialog (a visitor's old browser), the link opens the image itself.
  link.addEventListener("click", (event) => {
    if (!viewer || !viewer.showModal || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    openViewer(file);
  });
  return link;
}

function fileLink(file) {
  const link = document.createElement("a");
  link.className = "attachment-file";
  link.href = file.url;
  link.download = file.name;
  const name = document.createElement("span");
  name.className = "attachment-name";
  name.textContent = file.name;
  const size = document.createElement("span");
  size.className = "attachment-size";
  size.textContent = fileSize(file.size);
  link.append(name, " ", size);
  return link;
}

function openViewer(file) {
  const img = document.getElementById("image-viewer-img");
  const name = document.getElementById("image-viewer-name");
  img.removeAttribute("src"); // the last image must not show while this one loads
  img.width = file.width;
  img.height = file.height;
  img.alt = file.name;
  img.src = file.url;
  name.textContent = file.name;
  name.href = file.url;
  document.getElementById("image-viewer-size").textContent =
    file.width + " × " + file.height + " · " + fileSize(file.size);
  viewer.showModal();
}

if (viewer) {
  // A click on the backdrop (outside the image and its bar) closes it too.
  viewer.addEventListener("click", (event) => {
    if (event.target === viewer) viewer.close();
  });
}
