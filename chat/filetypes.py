"""Pure checks for uploaded files (no Django, no Pillow): what a file is, read from its
first bytes rather than from its name; a name made safe to store and show; the headers
that serve it.

A browser's own guess (the extension, its ``Content-Type``) is never believed: a file
called ``cat.png`` holding HTML is HTML here, and refused unless that type is allowed.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

# How many bytes ``sniff`` needs to see.
SNIFF_BYTES = 4096

# Raster images a page may show inline (and a thumbnail is made of): Pillow decodes and
# re-encodes each, so what is served is pixels, never the bytes that were sent.
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Types a browser would run or render as a document if served as themselves: always
# served as ``application/octet-stream``, for download, even if an operator allows them.
ACTIVE_TYPES = frozenset({"image/svg+xml", "text/html", "application/xml", "application/xhtml+xml"})
UNKNOWN = "application/octet-stream"

# (offset, bytes, type): the signatures at a file's start.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"PK\x05\x06", "application/zip"),  # an empty archive
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"MZ", "application/x-msdownload"),
)
# Markup a browser would render, looked for at the start of a text file (after a byte
# order mark and white space), as browsers' own sniffing does.
_MARKUP = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|svg|!--|title|style|div|a\s|img|"
    rb"meta|table|p[\s>]|br|h1|b[\s>]|font)",
    re.IGNORECASE,
)
# Text: no NUL and few other control bytes (tab, line feed, form feed, carriage return
# and escape are fine).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def sniff(head: bytes) -> str:
    """The type of a file from its first ``SNIFF_BYTES`` bytes: a known signature, or
    markup (``text/html``, ``image/svg+xml``), or ``text/plain`` for UTF-8 text, else
    ``application/octet-stream``."""
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"avif", b"avis"}:
            return "image/avif"
        if brand in {b"heic", b"heix", b"mif1", b"msf1"}:
            return "image/heic"
        if brand.startswith(b"M4A"):
            return "audio/mp4"
        return "video/mp4"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    lowered = text[:512].lower()
    if b"<svg" in lowered or (lowered.startswith(b"<?xml") and b"<svg" in head.lower()):
        return "image/svg+xml"
    if _MARKUP.match(text):
        return "text/html"
    if lowered.startswith(b"<?xml"):
        return "application/xml"
    if _is_text(head):
        return "text/plain"
    return UNKNOWN


def _is_text(head: bytes) -> bool:
    if _CONTROL.search(head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The head may end inside a character: only an error there is forgiven.
        return error.start >= len(head) - 3 and error.reason == "unexpected end of data"
    return True


NAME_MAX = 200
_UNSAFE = re.compile(r'[\\/:*?"<>|]')


def clean_name(name: str, kind: str = "") -> str:
    """A file's name as shown and offered for download: its last path part only,
    without control or format characters (a right-to-left override that makes
    ``gpj.exe`` read ``exe.jpg``), the characters Windows refuses, or dots leading
    (a hidden file) or trailing; at most ``NAME_MAX`` characters, the extension kept.
    Never empty: ``file`` (with the type's usual extension) when nothing is left."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rpartition("/")[2]
    kept = []
    for ch in name:
        category = unicodedata.category(ch)
        if ch in "\t\n\r\v\f" or category.startswith("Z"):
            kept.append(" ")
        elif category not in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            kept.append(ch)
    name = "".join(kept)
    name = _UNSAFE.sub("_", name)
    name = " ".join(name.split()).strip(". ")
    if len(name) > NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: NAME_MAX - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            name = name[:NAME_MAX].rstrip(". ")
    return name or "file" + EXTENSIONS.get(kind, "")


# The usual extension of each type, for a file whose name had none left.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "text/plain": ".txt",
}


# What each type is called in a sentence that lists what may be shared.
_WORDS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "application/pdf": "PDF",
    "text/plain": "text",
    "application/zip": "ZIP",
    "image/svg+xml": "SVG",
}


def describe_types(kinds: list[str]) -> str:
    """What may be shared, in words: ``JPEG, PNG, GIF, WebP, PDF and text files``."""
    words = list(dict.fromkeys(_WORDS.get(kind, kind) for kind in kinds))
    if not words:
        return "no files"
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{listed} files"


def served_type(kind: str) -> str:
    """The ``Content-Type`` a stored file of type ``kind`` is served with."""
    if kind in ACTIVE_TYPES or not kind:
        return UNKNOWN
    if kind == "text/plain":
        return "text/plain; charset=utf-8"
    return kind


def content_disposition(name: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients, the exact name as ``filename*``."""
    ascii_name = (
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ).replace('"', "_")
    ascii_name = re.sub(r"[^\x20-\x7e]", "_", ascii_name).strip() or "file"
    quoted = urllib.parse.quote(name, safe="")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


def human_size(size: int) -> str:
    """``1.4 MB``, ``820 KB``, ``12 bytes`` (decimal units, as file managers show)."""
    if size < 1000:
        return f"{size} byte{'s' if size != 1 else ''}"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 999.5 or unit == "TB":
            break
    text = f"{value:.1f}".removesuffix(".0") if value < 10 else f"{value:.0f}"
    return f"{text} {unit}"
