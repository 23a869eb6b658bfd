/*
 * What the page checks before uploading a file (pure: no DOM): its size and the type the
 * browser guesses from its name, against the room's limits (the page's config). The
 * server checks again, from the content; these only save a pointless upload.
 */

// 1.4 MB, 820 KB, 12 bytes: decimal units, as chat.filetypes.human_size writes them.
export function fileSize(size) {
  if (size < 1000) return size + (size === 1 ? " byte" : " bytes");
  let value = size;
  let unit = "";
  for (unit of ["KB", "MB", "GB", "TB"]) {
    value /= 1000;
    if (value < 999.5 || unit === "TB") break;
  }
  const text = value < 10 ? String(Number(value.toFixed(1))) : String(Math.round(value));
  return text + " " + unit;
}

/**
 * Why ``file`` ({name, size, type}) cannot be attached, as a sentence, or null if it may
 * be. ``limits``: the config's upload part; ``pending``: files already attached.
 */
export function refusal(file, limits, pending) {
  if (pending >= limits.maxFiles) {
    return "A message can have at most " + limits.maxFiles + " files.";
  }
  if (file.size > limits.maxBytes) {
    return "“" + file.name + "” is too big. The limit is " + limits.limitText + ".";
  }
  if (file.size === 0) return "“" + file.name + "” is empty.";
  // An empty type: the browser does not know; the server reads the content.
  if (file.type && !limits.types.includes(file.type)) {
    return "“" + file.name + "” cannot be shared here. You can share " + limits.typesText + ".";
  }
  return null;
}
