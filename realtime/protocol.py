"""Frame definitions and validation shared by every socket.

Each app declares its client frames once (``<app>/protocol.py``) as ``ClientFrame``
objects; ``parse_frame`` turns raw text into a validated dict or raises ``ActionError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from realtime.errors import ActionError, ErrorCode

MAX_ID = 2**63 - 1
REF_MAX_LENGTH = 64


@dataclass(frozen=True)
class Field:
    kind: type[str] | type[int] | type[bool]
    required: bool = True
    min_value: int | None = None
    max_value: int | None = None
    max_length: int | None = None

    def check(self, name: str, value: Any) -> Any:
        # bool is an int subclass in Python; JSON true is not an id.
        if not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            raise ActionError(ErrorCode.INVALID, f"'{name}' must be {_KIND_NAMES[self.kind]}")
        # The narrowing below is for the type checker: kind int means value is an int.
        if self.kind is int and isinstance(value, int):
            if self.min_value is not None and value < self.min_value:
                raise ActionError(ErrorCode.INVALID, f"'{name}' must be at least {self.min_value}")
            if self.max_value is not None and value > self.max_value:
                raise ActionError(ErrorCode.INVALID, f"'{name}' must be at most {self.max_value}")
        if isinstance(value, str) and self.max_length is not None and len(value) > self.max_length:
            raise ActionError(
                ErrorCode.TOO_LARGE, f"'{name}' must be at most {self.max_length} characters"
            )
        return value


_KIND_NAMES: dict[type, str] = {str: "a string", int: "an integer", bool: "true or false"}


def id_field(*, required: bool = True) -> Field:
    return Field(int, required=required, min_value=0, max_value=MAX_ID)


@dataclass(frozen=True)
class ClientFrame:
    """One frame type a client may send; handled by the consumer's ``on_<type>`` method.

    The handler returns its reply frame, or None; a None reply is sent as ``ack``, unless
    ``ack`` is off (fire-and-forget frames such as ``typing``) and the frame had no ref.
    """

    type: str
    fields: Mapping[str, Field] = field(default_factory=dict)
    ack: bool = True

    @property
    def handler_name(self) -> str:
        return "on_" + self.type.replace(".", "_")


def frame_registry(*frames: ClientFrame) -> dict[str, ClientFrame]:
    return {frame.type: frame for frame in frames}


def parse_frame(
    text: str, frames: Mapping[str, ClientFrame]
) -> tuple[ClientFrame, dict[str, Any], str | None]:
    """Validate one client frame: (its definition, its fields, the client's ``ref``).

    A refusal raises ``ActionError`` carrying the frame's ``ref`` whenever the frame
    parsed as JSON and its ``ref`` was a valid one, so the client can match the error."""
    data = _load(text)
    ref = _ref_of(data)
    try:
        return _validate(data, frames, ref)
    except ActionError as error:
        error.ref = ref
        raise


def frame_ref(text: str) -> str | None:
    """The ``ref`` of a frame that will not be handled (rate-limited), if it has one."""
    try:
        return _ref_of(_load(text))
    except ActionError:
        return None


def _ref_of(data: Any) -> str | None:
    ref = data.get("ref") if isinstance(data, dict) else None
    if isinstance(ref, str) and len(ref) <= REF_MAX_LENGTH:
        return ref
    return None


def _load(text: str) -> Any:
    try:
        data = json.loads(text)
        text.encode("utf-8")  # a lone surrogate (only an in-process client can send one)
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise ActionError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    # JSON may spell a lone surrogate ("\ud800"), which no UTF-8 text can carry: storing
    # or echoing it would fail later, in the database or on the way out.
    if "\\u" in text and _has_lone_surrogate(data):
        raise ActionError(ErrorCode.BAD_JSON, "frame contains invalid Unicode")
    return data


def _validate(
    data: Any, frames: Mapping[str, ClientFrame], ref: str | None
) -> tuple[ClientFrame, dict[str, Any], str | None]:
    if not isinstance(data, dict):
        raise ActionError(ErrorCode.BAD_FRAME, "frame must be a JSON object")
    if data.get("ref") is not None and ref is None:
        raise ActionError(ErrorCode.INVALID, f"'ref' must be a string of at most {REF_MAX_LENGTH}")
    frame_type = data.get("type")
    if not isinstance(frame_type, str):
        raise ActionError(ErrorCode.BAD_FRAME, "frame must have a string 'type'")
    spec = frames.get(frame_type)
    if spec is None:
        raise ActionError(ErrorCode.UNKNOWN_TYPE, f"unknown frame type '{frame_type[:40]}'")
    values: dict[str, Any] = {}
    for name, rule in spec.fields.items():
        if name not in data or data[name] is None:
            if rule.required:
                raise ActionError(ErrorCode.INVALID, f"'{name}' is required")
            continue
        values[name] = rule.check(name, data[name])
    return spec, values, ref


def _has_lone_surrogate(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):  # NaN is fine; nesting was already bounded
        return False
    return False


def encode(frame: Mapping[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def ascii_id(raw: str | None) -> int | None:
    """An id from a URL parameter: ASCII digits only (``str.isdigit`` and ``int`` also
    take other scripts' digits, so an Arabic-Indic one would read as 1), at most MAX_ID."""
    if raw is None or not _ASCII_ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


_ASCII_ID = re.compile(r"[0-9]{1,19}")


def error_frame(code: ErrorCode | str, message: str, ref: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": str(code), "message": message}
    if ref is not None:
        frame["ref"] = ref
    return frame


PING = ClientFrame("ping")


# ---------------------------------------------------------------- server frames
#
# Every frame the server sends is declared beside the client frames, with its shape, and
# built by a function of the app's protocol module. The test suite checks every frame it
# receives against the declarations of the socket it came from (tests/conftest.py), the
# way Zulip checks its events against event_types.py: an undeclared field, a missing one
# or a wrong type fails the test that produced it.
#
# A shape is a type (str, int, float, bool), None (JSON null), a list [shape] (every
# item has that shape), a dict {key: shape} (exactly those keys, Maybe(...) for the
# optional ones), or a tuple of shapes (any one of them).


@dataclass(frozen=True)
class Maybe:
    """A key that may be absent."""

    shape: Any


@dataclass(frozen=True)
class ServerFrame:
    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def shape(self) -> dict[str, Any]:
        return {"type": str, "ref": Maybe(str), **self.fields}


def server_registry(*frames: ServerFrame) -> dict[str, ServerFrame]:
    return {frame.type: frame for frame in frames}


def frame_problems(frame: Any, frames: Mapping[str, ServerFrame]) -> list[str]:
    """What is wrong with a server frame, by the socket's declarations ([] if nothing)."""
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return [f"not a frame: {frame!r:.80}"]
    spec = frames.get(frame["type"])
    if spec is None:
        return [f"undeclared frame type {frame['type']!r}"]
    return _shape_problems(frame, spec.shape(), frame["type"])


def _shape_problems(value: Any, shape: Any, where: str) -> list[str]:
    if isinstance(shape, tuple):
        if any(not _shape_problems(value, option, where) for option in shape):
            return []
        return [f"{where}: {value!r:.60} is none of the allowed shapes"]
    if shape is None:
        return [] if value is None else [f"{where}: {value!r:.60} is not null"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: {value!r:.60} is not a list"]
        return [
            p
            for i, item in enumerate(value)
            for p in _shape_problems(item, shape[0], f"{where}[{i}]")
        ]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: {value!r:.60} is not an object"]
        problems = [f"{where}: undeclared field {key!r}" for key in value if key not in shape]
        for key, rule in shape.items():
            optional = isinstance(rule, Maybe)
            if key not in value:
                if not optional:
                    problems.append(f"{where}: missing field {key!r}")
                continue
            problems += _shape_problems(
                value[key], rule.shape if optional else rule, f"{where}.{key}"
            )
        return problems
    if shape is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif shape is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, shape)
    return [] if ok else [f"{where}: {value!r:.60} is not {shape.__name__}"]


USER = {"id": int, "username": str}

# Frames every socket may send.
PONG = ServerFrame("pong")
ACK = ServerFrame("ack", {"id": Maybe(int)})  # id: what the action stored (a message)
ERROR = ServerFrame("error", {"code": str, "message": str})
CLOSING = ServerFrame("closing", {"reason": str})
COMMON_SERVER_FRAMES = (PONG, ACK, ERROR, CLOSING)


def closing_frame(reason: str) -> dict[str, Any]:
    return {"type": "closing", "reason": reason}


def ack_frame(**fields: Any) -> dict[str, Any]:
    return {"type": "ack", **fields}
