from __future__ import annotations

import json
from typing import Annotated, ClassVar

import msgspec
import pytest

from realtime.errors import ActionError, ErrorCode
from realtime.protocol import (
    MAX_ID,
    ClientFrame,
    ClientSpec,
    Id,
    Meta,
    Ping,
    client_frames,
    encode,
    error_frame,
    parse_frame,
)


class Say(ClientFrame, tag="say"):
    text: Annotated[str, Meta(max_length=5)]
    to: Id | None = None


class Wave(ClientFrame, tag="wave"):
    ack: ClassVar[bool] = False
    loud: bool = False


FRAMES = client_frames(Ping, Say, Wave)


def parse(raw: object) -> tuple[ClientSpec, dict, str | None]:
    return parse_frame(raw if isinstance(raw, str) else json.dumps(raw), FRAMES)


def refusal(raw: object) -> ActionError:
    with pytest.raises(ActionError) as caught:
        parse(raw)
    return caught.value


def code_of(raw: object) -> ErrorCode:
    return refusal(raw).code


def test_valid_frame() -> None:
    spec, fields, ref = parse({"type": "say", "text": "hi", "to": 3, "ref": "r1"})
    assert spec.handler_name == "on_say"
    assert spec.frame is Say
    assert fields == {"text": "hi", "to": 3}
    assert ref == "r1"


def test_the_declaration_gives_the_type_the_ack_and_the_handler() -> None:
    assert FRAMES["wave"].ack is False
    assert FRAMES["say"].ack is True
    assert FRAMES["wave"].handler_name == "on_wave"
    assert parse({"type": "wave"})[1] == {"loud": False}


def test_optional_field_may_be_missing_or_null() -> None:
    assert parse({"type": "say", "text": "hi"})[1] == {"text": "hi", "to": None}
    assert parse({"type": "say", "text": "hi", "to": None})[1] == {"text": "hi", "to": None}
    # Null means absent: the declared default, not null.
    assert parse({"type": "wave", "loud": None})[1] == {"loud": False}


def test_an_unknown_field_is_ignored() -> None:
    assert parse({"type": "say", "text": "hi", "colour": [1, {"x": None}]})[1]["text"] == "hi"


def test_json_only_the_standard_library_reads_is_still_accepted() -> None:
    """NaN in an unknown field: refused by msgspec's decoder, read as before."""
    assert parse('{"type": "say", "text": "hi", "x": NaN}')[1]["text"] == "hi"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", ErrorCode.BAD_JSON),
        ("[1, 2]", ErrorCode.BAD_FRAME),
        ('"text"', ErrorCode.BAD_FRAME),
        ({"text": "no type"}, ErrorCode.BAD_FRAME),
        ({"type": 7}, ErrorCode.BAD_FRAME),
        ({"type": "shout"}, ErrorCode.UNKNOWN_TYPE),
        ({"type": "say"}, ErrorCode.INVALID),
        ({"type": "say", "text": 5}, ErrorCode.INVALID),
        ({"type": "say", "text": "hi", "to": "3"}, ErrorCode.INVALID),
        ({"type": "say", "text": "hi", "to": True}, ErrorCode.INVALID),
        ({"type": "say", "text": "hi", "to": -1}, ErrorCode.INVALID),
        ({"type": "say", "text": "hi", "to": MAX_ID + 1}, ErrorCode.INVALID),
        ({"type": "say", "text": "hi", "to": 1.5}, ErrorCode.INVALID),
        ({"type": "say", "text": "toolong"}, ErrorCode.TOO_LARGE),
        ({"type": "wave", "loud": 1}, ErrorCode.INVALID),
        ({"type": "ping", "ref": 5}, ErrorCode.INVALID),
        ({"type": "ping", "ref": "x" * 65}, ErrorCode.INVALID),
        ("[" * 100_000 + "]" * 100_000, ErrorCode.BAD_JSON),
        ('{"type": "ping", "ref": "\\ud800"}', ErrorCode.BAD_JSON),
        ('{"type": "ping", "ref": "\ud800"}', ErrorCode.BAD_JSON),
    ],
)
def test_bad_frames(raw: object, code: ErrorCode) -> None:
    assert code_of(raw) == code


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "say"}, "'text' is required."),
        ({"type": "say", "text": None}, "'text' is required."),
        ({"type": "say", "text": 5}, "'text' must be a string."),
        ({"type": "say", "text": "hi", "to": True}, "'to' must be an integer."),
        ({"type": "say", "text": "hi", "to": -1}, "'to' must be at least 0."),
        ({"type": "say", "text": "hi", "to": MAX_ID + 1}, f"'to' must be at most {MAX_ID}."),
        ({"type": "say", "text": "toolong"}, "'text' must be at most 5 characters."),
        ({"type": "wave", "loud": "yes"}, "'loud' must be true or false."),
        ({"type": "shout"}, "Unknown frame type 'shout'."),
    ],
)
def test_refusals_name_the_field_in_a_sentence(raw: object, message: str) -> None:
    assert refusal(raw).message == message


def test_a_refusal_carries_the_ref_when_it_is_valid() -> None:
    assert refusal({"type": "say", "ref": "r9"}).ref == "r9"
    assert refusal({"type": "say", "ref": "x" * 65}).ref is None


def test_error_frame_shape() -> None:
    assert msgspec.to_builtins(error_frame(ErrorCode.MUTED, "no", "r")) == {
        "type": "error",
        "code": "muted",
        "message": "no",
        "ref": "r",
    }
    assert json.loads(encode(error_frame(ErrorCode.MUTED, "no"))) == {
        "type": "error",
        "code": "muted",
        "message": "no",
    }
