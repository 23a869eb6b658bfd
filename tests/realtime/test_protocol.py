from __future__ import annotations

import json

import pytest

from realtime.errors import ActionError, ErrorCode
from realtime.protocol import (
    MAX_ID,
    PING,
    ClientFrame,
    Field,
    error_frame,
    frame_registry,
    id_field,
    parse_frame,
)

FRAMES = frame_registry(
    PING,
    ClientFrame("say", {"text": Field(str, max_length=5), "to": id_field(required=False)}),
)


def parse(raw: object) -> tuple[ClientFrame, dict, str | None]:
    return parse_frame(raw if isinstance(raw, str) else json.dumps(raw), FRAMES)


def code_of(raw: object) -> ErrorCode:
    with pytest.raises(ActionError) as caught:
        parse(raw)
    return caught.value.code


def test_valid_frame() -> None:
    spec, fields, ref = parse({"type": "say", "text": "hi", "to": 3, "ref": "r1"})
    assert spec.handler_name == "on_say"
    assert fields == {"text": "hi", "to": 3}
    assert ref == "r1"


def test_optional_field_may_be_missing_or_null() -> None:
    assert parse({"type": "say", "text": "hi"})[1] == {"text": "hi"}
    assert parse({"type": "say", "text": "hi", "to": None})[1] == {"text": "hi"}


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
        ({"type": "ping", "ref": 5}, ErrorCode.INVALID),
        ({"type": "ping", "ref": "x" * 65}, ErrorCode.INVALID),
        ("[" * 100_000 + "]" * 100_000, ErrorCode.BAD_JSON),
    ],
)
def test_bad_frames(raw: object, code: ErrorCode) -> None:
    assert code_of(raw) == code


def test_error_frame_shape() -> None:
    assert error_frame(ErrorCode.MUTED, "no", "r") == {
        "type": "error",
        "code": "muted",
        "message": "no",
        "ref": "r",
    }
