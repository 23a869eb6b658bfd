"""Frame declarations, validation and encoding shared by every socket.

Every frame, both ways, is one ``msgspec.Struct`` class in its app's ``protocol.py``:

- a client frame subclasses ``ClientFrame`` with ``tag=`` its type; its fields (with
  ``msgspec.Meta`` limits) are what the consumer's ``on_<type>`` handler receives, as
  keyword arguments. ``client_frames(...)`` makes a socket's set, with its decoder;
- a server frame subclasses ``ServerFrame`` with ``tag=`` its type: constructing it builds
  the frame, ``encode`` writes it. A frame broadcast to groups names its channel-layer
  event (``event``); a consumer handles the event with its method of that name (dots as
  underscores), or, if it has none and the socket declares the frame, forwards it as is.

``docs/protocol.md``'s frame tables and ``static/realtime/protocol.js`` are generated from
these declarations (``make protocol``, ``realtime.protocol_docs``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Union

import msgspec
from msgspec import UNSET, Meta, UnsetType

from realtime.errors import ActionError, ErrorCode

MAX_ID = 2**63 - 1
REF_MAX_LENGTH = 64

# Field types for declarations.
Id = Annotated[int, Meta(ge=0, le=MAX_ID)]
Ref = Annotated[str, Meta(max_length=REF_MAX_LENGTH)]

__all__ = ["UNSET", "Meta", "UnsetType"]  # re-exported for the apps' declarations


class ClientFrame(msgspec.Struct, tag_field="type", kw_only=True):
    """One frame type a client may send; handled by the consumer's ``on_<type>`` method
    (dots as underscores), given the frame's fields (but ``ref``) as keyword arguments.

    A field with a default is optional, and null means absent. The handler returns its
    reply frame, or None; a None reply is sent as ``ack``, unless ``ack`` is off
    (fire-and-forget frames such as ``typing``) and the frame had no ref. Unknown fields
    are ignored."""

    ack: ClassVar[bool] = True
    ref: Ref | None = None


class ServerFrame(msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=True):
    """One frame type the server sends. ``event``: the channel-layer event that carries
    it to a group's sockets (None: sent to one socket only). A field typed ``X |
    UnsetType`` defaulting to ``UNSET`` may be absent from the frame; ``X | None`` is
    always there, possibly null."""

    event: ClassVar[str | None] = None
    ref: str | UnsetType = UNSET


class Payload(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An object nested in a server frame (a message, a user)."""


def frame_type(frame: type[ClientFrame] | type[ServerFrame]) -> str:
    tag = frame.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{frame.__name__} declares no frame type (tag=...)")
    return tag


# ---------------------------------------------------------------- client frames


@dataclass(frozen=True)
class Field:
    """A client frame's field rule, read from its declaration: it words the refusals
    as sentences that name the field ("'id' must be an integer.")."""

    kind: type[str] | type[int] | type[bool] | type[list[Any]]
    required: bool = True
    min_value: int | None = None
    max_value: int | None = None
    max_length: int | None = None
    item: Field | None = None  # a list's items' rule

    def check(self, name: str, value: Any) -> Any:
        if self.item is not None:
            if not isinstance(value, list):
                raise ActionError(ErrorCode.INVALID, f"'{name}' must be a list.")
            if self.max_length is not None and len(value) > self.max_length:
                raise ActionError(
                    ErrorCode.TOO_LARGE, f"'{name}' must have at most {self.max_length} items."
                )
            return [self.item.check(name, each) for each in value]
        # bool is an int subclass in Python; JSON true is not an id.
        if not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            raise ActionError(ErrorCode.INVALID, f"'{name}' must be {_KIND_NAMES[self.kind]}.")
        if self.kind is int and isinstance(value, int):
            if self.min_value is not None and value < self.min_value:
                raise ActionError(ErrorCode.INVALID, f"'{name}' must be at least {self.min_value}.")
            if self.max_value is not None and value > self.max_value:
                raise ActionError(ErrorCode.INVALID, f"'{name}' must be at most {self.max_value}.")
        if isinstance(value, str) and self.max_length is not None and len(value) > self.max_length:
            raise ActionError(
                ErrorCode.TOO_LARGE, f"'{name}' must be at most {self.max_length} characters."
            )
        return value


_KIND_NAMES: dict[type, str] = {str: "a string", int: "an integer", bool: "true or false"}
_KINDS: dict[type, type[str] | type[int] | type[bool]] = {
    msgspec.inspect.StrType: str,
    msgspec.inspect.IntType: int,
    msgspec.inspect.BoolType: bool,
}


def _rule(field: msgspec.inspect.Field) -> Field:
    kind = field.type
    while isinstance(kind, msgspec.inspect.UnionType | msgspec.inspect.Metadata):
        if isinstance(kind, msgspec.inspect.Metadata):  # a description (for the docs)
            kind = kind.type
        else:  # X | None
            [kind] = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
    item = None
    if isinstance(kind, msgspec.inspect.ListType):
        item = _rule(msgspec.inspect.Field(field.name, field.name, kind.item_type))
        if item.item is not None:
            raise TypeError(f"client frame field {field.name!r}: no lists of lists")
    base = list if item is not None else _KINDS.get(type(kind))
    if base is None:
        raise TypeError(f"client frame field {field.name!r}: only str, int, bool and lists")
    return Field(
        base,
        item=item,
        required=field.required,
        min_value=getattr(kind, "ge", None),
        max_value=getattr(kind, "le", None),
        max_length=getattr(kind, "max_length", None),
    )


class _NoFrame(ClientFrame, tag=""):
    """No frame's: it only makes each socket's decoder a union (see ``ClientFrames``)."""


@dataclass(frozen=True)
class ClientSpec:
    """A client frame declaration as the consumer uses it."""

    frame: type[ClientFrame]
    type: str
    ack: bool
    handler_name: str
    fields: dict[str, Field]  # but ref


def client_spec(frame: type[ClientFrame]) -> ClientSpec:
    info = msgspec.inspect.type_info(frame)
    if not isinstance(info, msgspec.inspect.StructType):
        raise TypeError(f"{frame!r} is not a frame declaration")
    name = frame_type(frame)
    return ClientSpec(
        frame=frame,
        type=name,
        ack=frame.ack,
        handler_name="on_" + name.replace(".", "_"),
        fields={f.name: _rule(f) for f in info.fields if f.name != "ref"},
    )


class ClientFrames(dict[str, ClientSpec]):
    """A socket's client frames by type, and one decoder for all of them."""

    def __init__(self, frames: Iterable[type[ClientFrame]]) -> None:
        specs = [client_spec(frame) for frame in frames]
        super().__init__((spec.type, spec) for spec in specs)
        self.by_class = {spec.frame: spec for spec in specs}
        # Always a union of two or more: msgspec reads a lone tagged struct without its tag.
        self.union: Any = Union[(*(spec.frame for spec in specs), _NoFrame)]
        self.decoder = msgspec.json.Decoder(self.union)


def client_frames(*frames: type[ClientFrame]) -> ClientFrames:
    return ClientFrames(frames)


def parse_frame(text: str, frames: ClientFrames) -> tuple[ClientSpec, dict[str, Any], str | None]:
    """Validate one client frame: (its declaration, its fields but ref, the client's ``ref``).

    A refusal raises ``ActionError`` carrying the frame's ``ref`` whenever the frame
    parsed as JSON and its ``ref`` was a valid one, so the client can match the error."""
    try:
        frame = frames.decoder.decode(text)
    except (msgspec.DecodeError, UnicodeEncodeError):
        # Not the common case: refused (or, for JSON that only the standard library
        # reads, NaN in an unknown field say, accepted) in the site's own words.
        frame = _slow_parse(text, frames)
    spec = frames.by_class.get(type(frame))
    if spec is None:  # _NoFrame
        frame = _slow_parse(text, frames)
        spec = frames.by_class[type(frame)]
    return spec, {name: getattr(frame, name) for name in spec.fields}, frame.ref


def _slow_parse(text: str, frames: ClientFrames) -> ClientFrame:
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
        raise ActionError(ErrorCode.BAD_JSON, "The frame is not valid JSON.") from None
    # JSON may spell a lone surrogate ("\ud800"), which no UTF-8 text can carry: storing
    # or echoing it would fail later, in the database or on the way out.
    if "\\u" in text and _has_lone_surrogate(data):
        raise ActionError(ErrorCode.BAD_JSON, "The frame contains invalid Unicode.")
    return data


def _validate(data: Any, frames: ClientFrames, ref: str | None) -> ClientFrame:
    if not isinstance(data, dict):
        raise ActionError(ErrorCode.BAD_FRAME, "The frame must be a JSON object.")
    if data.get("ref") is not None and ref is None:
        raise ActionError(
            ErrorCode.INVALID, f"'ref' must be a string of at most {REF_MAX_LENGTH} characters."
        )
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ActionError(ErrorCode.BAD_FRAME, "The frame must have a string 'type'.")
    spec = frames.get(kind)
    if spec is None:
        raise ActionError(ErrorCode.UNKNOWN_TYPE, f"Unknown frame type '{kind[:40]}'.")
    values: dict[str, Any] = {"type": kind, "ref": ref}
    for name, rule in spec.fields.items():
        if name not in data or data[name] is None:
            if rule.required:
                raise ActionError(ErrorCode.INVALID, f"'{name}' is required.")
            continue
        values[name] = rule.check(name, data[name])
    try:
        return msgspec.convert(values, spec.frame, strict=True)
    except msgspec.ValidationError as error:  # beyond the rules (an int over 64 bits)
        where = str(error).rpartition("$.")[2].rstrip("`")
        raise ActionError(ErrorCode.INVALID, f"'{where}' is not valid.") from None


def _has_lone_surrogate(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):  # NaN is fine; nesting was already bounded
        return False
    return False


def ascii_id(raw: str | None) -> int | None:
    """An id from a URL parameter: ASCII digits only (``str.isdigit`` and ``int`` also
    take other scripts' digits, so an Arabic-Indic one would read as 1), at most MAX_ID."""
    if raw is None or not _ASCII_ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


_ASCII_ID = re.compile(r"[0-9]{1,19}")


class Ping(ClientFrame, tag="ping"):
    """Who: anyone
    Reply: `pong`"""


# ---------------------------------------------------------------- server frames


class ServerFrames(dict[str, type[ServerFrame]]):
    """A socket's server frames by type; ``union`` reads them back strictly (the test
    suite checks every frame it receives with it: ``msgspec.convert``)."""

    def __init__(self, frames: Iterable[type[ServerFrame]]) -> None:
        frames = list(dict.fromkeys(frames))
        super().__init__((frame_type(frame), frame) for frame in frames)
        self.events = {frame.event for frame in frames if frame.event is not None}
        self.union: Any = Union[tuple(frames)]  # noqa: UP007
        self.decoder = msgspec.json.Decoder(self.union)


def server_frames(*frames: type[ServerFrame]) -> ServerFrames:
    return ServerFrames(frames)


def _enc_hook(value: Any) -> Any:
    # Django's choices (a TextChoices member set in code, before a reload) are str
    # subclasses that msgspec does not take as str.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode(frame: ServerFrame | Mapping[str, Any]) -> str:
    return _encoder.encode(frame).decode()


class User(Payload):
    id: int
    username: str


class Pong(ServerFrame, tag="pong"):
    pass


class Ack(ServerFrame, tag="ack"):
    id: int | UnsetType = UNSET  # what the action stored (a message)


class Error(ServerFrame, tag="error"):
    code: str
    message: str


class Closing(ServerFrame, tag="closing"):
    # Also to a user's or a session's sockets, when they log out (rt.close).
    reason: str


# Frames every socket may send.
COMMON_SERVER_FRAMES = (Pong, Ack, Error, Closing)


def error_frame(code: ErrorCode | str, message: str, ref: str | None = None) -> Error:
    return Error(code=str(code), message=message, ref=UNSET if ref is None else ref)
