"""The frame tables of ``docs/protocol.md``, rendered from the frame declarations
(``realtime.protocol_docs`` puts them between the document's marker comments).

A client frame's docstring says who may send it and what comes of it, in lines
``Who: ...`` and ``Reply: ...`` (or ``Effect: ...``, where what changes matters more than
the reply); a line that follows one of them without a blank line continues it, and lines
before them describe the frame for its readers in the code only. A field's
``Meta(description=...)`` stands in the table for its type (``"message id"``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from realtime.protocol import MAX_ID, ClientFrame, ServerFrame, frame_type

NOTE_KEYS = ("Who", "Reply", "Effect")
_NOTE = re.compile(rf"^({'|'.join(NOTE_KEYS)}): (.*)$")
_KINDS: dict[type, str] = {
    msgspec.inspect.StrType: "string",
    msgspec.inspect.IntType: "integer",
    msgspec.inspect.BoolType: "boolean",
    msgspec.inspect.FloatType: "number",
}
NONE = "\u2013"  # an en dash: no fields, no one named


def frame_notes(frame: type[ClientFrame]) -> dict[str, str]:
    """The ``Who:`` / ``Reply:`` / ``Effect:`` lines of a frame's docstring, each joined
    into one line."""
    notes: dict[str, str] = {}
    key = None
    for line in inspect.cleandoc(frame.__doc__ or "").splitlines():
        match = _NOTE.match(line)
        if match:
            key = match[1]
            notes[key] = match[2].strip()
        elif not line.strip():
            key = None
        elif key is not None:
            notes[key] += " " + line.strip()
    return notes


def _limits(kind: Any) -> list[str]:
    found = []
    for attr, sign in (("ge", "≥"), ("gt", ">"), ("min_length", "≥"), ("le", "≤"), ("lt", "<")):
        value = getattr(kind, attr, None)
        if value is not None and not (attr == "le" and value == MAX_ID):  # an id: no bound
            found.append(f"{sign} {value}")
    max_length = getattr(kind, "max_length", None)
    if max_length is not None:
        found.append(f"≤ {max_length}")
    return found


def type_text(kind: Any, *, nullable: bool = True) -> str:
    """A field's type in words: ``string ≤ 64``, ``list of MessageData``, ``User or
    null``; a client frame's fields are not ``nullable`` (null there means absent)."""
    if isinstance(kind, msgspec.inspect.Metadata):
        description = (kind.extra_json_schema or {}).get("description")
        return description or type_text(kind.type, nullable=nullable)
    if isinstance(kind, msgspec.inspect.UnionType):
        others = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
        text = " or ".join(type_text(t) for t in others)
        return text + " or null" if nullable and len(others) < len(kind.types) else text
    if isinstance(kind, msgspec.inspect.LiteralType):
        values = [f"`{value}`" for value in kind.values]
        return "one of " + ", ".join(values)
    if isinstance(kind, msgspec.inspect.ListType):
        item = type_text(kind.item_type)
        return f"list of ({item})" if " or " in item else f"list of {item}"
    if isinstance(kind, msgspec.inspect.StructType):
        return kind.cls.__name__
    name = _KINDS.get(type(kind))
    if name is None:
        raise TypeError(f"no words for the type {kind!r}")
    limits = _limits(kind)
    return f"{name} {' and '.join(limits)}" if limits else name


def _struct_fields(struct: type[msgspec.Struct]) -> tuple[msgspec.inspect.Field, ...]:
    info = msgspec.inspect.type_info(struct)
    if not isinstance(info, msgspec.inspect.StructType):
        raise TypeError(f"{struct!r} is not a frame declaration")
    return info.fields


def _fields(struct: type[msgspec.Struct], *, client: bool) -> str:
    parts = []
    for field in _struct_fields(struct):
        if field.name == "ref":
            continue
        text = f"`{field.name}`: {type_text(field.type, nullable=not client)}"
        # A server frame's field with a default is always sent, but for one left UNSET.
        absent = field.default is msgspec.NODEFAULT and field.default_factory is msgspec.NODEFAULT
        if not field.required and (client or absent):
            text += ", optional"
        parts.append(text)
    return "; ".join(parts) or NONE


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def client_table(frames: Sequence[type[ClientFrame]], common: Iterable[type] = ()) -> str:
    """A socket's client frames, its own first: fields, who may send each (when its own
    frames say) and its reply, or effect (when one of its own frames says that instead)."""
    shared = set(common)
    ordered = [f for f in frames if f not in shared] + [f for f in frames if f in shared]
    notes = {frame: frame_notes(frame) for frame in ordered}
    own = [frame for frame in ordered if frame not in shared] or ordered
    who = any("Who" in notes[frame] for frame in own)
    last = "Effect" if any("Effect" in notes[frame] for frame in own) else "Reply"
    rows = []
    for frame in ordered:
        outcome = notes[frame].get("Effect") or notes[frame].get("Reply")
        if outcome is None:
            raise ValueError(f"{frame.__name__}: its docstring says no 'Reply:' (or 'Effect:')")
        who_cell = [notes[frame].get("Who", NONE)] if who else []
        rows.append([f"`{frame_type(frame)}`", _fields(frame, client=True), *who_cell, outcome])
    return _table(["Frame", "Fields", *(["Who"] if who else []), last], rows)


def _payloads(kind: Any, found: dict[type, None]) -> None:
    if isinstance(kind, msgspec.inspect.StructType) and kind.cls not in found:
        found[kind.cls] = None
        for field in kind.fields:
            _payloads(field.type, found)
    for inner in (
        getattr(kind, "type", None),
        getattr(kind, "item_type", None),
        *getattr(kind, "types", ()),
    ):
        if inner is not None:
            _payloads(inner, found)


def server_table(frames: Sequence[type[ServerFrame]]) -> str:
    """Server frames and their fields, then the objects nested in them, by name."""
    rows = [[f"`{frame_type(frame)}`", _fields(frame, client=False)] for frame in frames]
    nested: dict[type, None] = {}
    for frame in frames:
        for field in _struct_fields(frame):
            _payloads(field.type, nested)
    text = _table(["Frame", "Fields"], rows)
    if nested:
        payloads = [[cls.__name__, _fields(cls, client=False)] for cls in nested]
        text += "\n" + _table(["Object", "Fields"], payloads)
    return text
