"""User text on its way in: one rule for every field, on every database.

Control characters (NUL included) are stripped, except newline and tab in multi-line
text: PostgreSQL refuses NUL in text while SQLite stores it, and none of them shows as
anything. Text made only of white space and invisible characters (zero-width spaces,
joiners, the byte-order mark, Hangul fillers...) counts as empty.
"""

from __future__ import annotations

import unicodedata

# Letters that draw as nothing (category Lo, so not caught as format characters).
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def clean_text(value: str, *, multiline: bool = True) -> str:
    """``value`` without control characters; a single line when not ``multiline``
    (newlines and tabs become spaces)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    kept = "\n\t" if multiline else ""
    cleaned = []
    for char in value:
        if char in kept or unicodedata.category(char) != "Cc":
            cleaned.append(char)
        elif char in "\n\t":
            cleaned.append(" ")
    return "".join(cleaned)


def is_blank(value: str) -> bool:
    """Nothing a reader would see: white space, format characters and blank letters."""
    return all(
        char.isspace() or char in _INVISIBLE_LETTERS or unicodedata.category(char) == "Cf"
        for char in value
    )


def clean_required(value: str, *, multiline: bool = True) -> str:
    """``clean_text``, trimmed; "" when nothing visible is left."""
    value = clean_text(value, multiline=multiline).strip()
    return "" if is_blank(value) else value
