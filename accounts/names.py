"""Usernames that look alike: the skeleton two look-alike names share.

"alice" spelled with a Cyrillic a beside "alice" is the same name to a reader. Each name is
reduced to a skeleton in the spirit of Unicode TS #39: compatibility-normalized, each
character that looks like an ASCII letter or digit replaced by it, the ASCII look-alikes
(I, l, 1; O, 0; rn, m) made one, case folded; two names with one skeleton are one name.
The look-alike sets come from the Unicode confusables data as shipped by the
confusable-homoglyphs package (docs/decisions.md).
"""

from __future__ import annotations

import functools
import unicodedata

from confusable_homoglyphs.confusables import confusables_data

# Plain ASCII characters that read as others in common fonts (after NFKC, before
# lowering: capital I and small l are the classic pair), and letter pairs that read as
# one letter (UTS #39 lists "rn" for "m").
_ASCII_ALIKE = str.maketrans({"I": "l", "1": "l", "|": "l", "0": "o", "O": "o"})
_PAIRS_ALIKE = (("rn", "m"), ("vv", "w"))


def _ascii(char: str) -> str:
    return char.translate(_ASCII_ALIKE).lower()


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each non-ASCII character that looks like an ASCII letter or digit -> that one.

    The data lists each character's look-alikes, but not always both ways (Cyrillic a
    lists Latin a; Latin a lists Cyrillic a; math alphas list only some), so both ways
    are read. Where one looks like several (Greek capital iota: I, l and 1), they are
    one after ``_ascii`` anyway, or the lowest is taken."""
    candidates: dict[str, set[str]] = {}

    def alike(other: str, ascii_char: str) -> None:
        if other and not other.isascii() and len(other) == 1 and ascii_char.isalnum():
            candidates.setdefault(other, set()).add(_ascii(ascii_char))

    for char, entries in confusables_data.items():
        for entry in entries:
            glyph = entry["c"].strip("\u200e\u200f")  # the data wraps RTL glyphs in marks
            if len(char) == 1 and char.isascii():
                alike(glyph, char)
            elif len(glyph) == 1 and glyph.isascii():
                alike(char, glyph)
    return {char: min(found) for char, found in candidates.items()}


def _skeleton(text: str) -> str:
    prototypes = _prototypes()
    skeleton = "".join(prototypes.get(char) or _ascii(char) for char in text).casefold()
    for pair, letter in _PAIRS_ALIKE:
        skeleton = skeleton.replace(pair, letter)
    return skeleton


def username_skeletons(username: str) -> tuple[str, str]:
    """The forms of a name that another name sharing either of looks the same as: as
    written ("Ian" reads as "lan"), and in lower case (names are one in any case, and
    "alice" is not "allce")."""
    text = unicodedata.normalize("NFKC", username)
    return _skeleton(text), _skeleton(text.casefold())
