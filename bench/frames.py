"""make bench-frames: what a frame costs to encode and to decode and validate, per frame,
before and after the frame declarations moved to msgspec (docs/decisions.md).

    python -m bench.frames            # a chat message broadcast and a client message.send

"Before" is a copy of the code it replaced (json and the home-made field rules, below);
"after" is realtime.protocol as it runs. Both build the frame from the same message, as
chat.services does, then encode it once (one broadcast); the client frame is parsed and
validated as the consumer does.
"""

from __future__ import annotations

import json
import os
import timeit
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtsite.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-key")
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from chat import protocol  # noqa: E402
from realtime.errors import ActionError, ErrorCode  # noqa: E402
from realtime.protocol import encode, parse_frame  # noqa: E402

# ---------------------------------------------------------------- the code before


def old_message_frame(message: Any) -> dict[str, Any]:
    edited_at = message.edited_at
    return {
        "type": "message",
        "message": {
            "id": message.pk,
            "seq": message.seq,
            "author": {"id": message.author_id, "username": message.author.get_username()},
            "body": message.body,
            "created_at": message.created_at.isoformat(),
            "edited_at": edited_at.isoformat() if edited_at is not None else None,
            "reactions": [
                {"emoji": emoji, "users": [{"id": uid, "username": name} for uid, name in users]}
                for emoji, users in message.reactions.items()
            ],
            "reply": None,
        },
    }


def old_encode(frame: Any) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def old_parse_send(text: str) -> tuple[dict[str, Any], str | None]:
    """The old parse_frame for message.send: json, then the field rules."""
    try:
        data = json.loads(text)
        text.encode("utf-8")
    except (ValueError, RecursionError):
        raise ActionError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ActionError(ErrorCode.BAD_FRAME, "frame must be a JSON object")
    ref = data.get("ref")
    if ref is not None and not (isinstance(ref, str) and len(ref) <= 64):
        raise ActionError(ErrorCode.INVALID, "'ref' must be a string of at most 64")
    if data.get("type") != "message.send":
        raise ActionError(ErrorCode.UNKNOWN_TYPE, "unknown frame type")
    values = {}
    for name, limit, required in (("body", 20_000, True), ("nonce", 64, False)):
        value = data.get(name)
        if value is None:
            if required:
                raise ActionError(ErrorCode.INVALID, f"'{name}' is required")
            continue
        if not isinstance(value, str):
            raise ActionError(ErrorCode.INVALID, f"'{name}' must be a string")
        if len(value) > limit:
            raise ActionError(ErrorCode.TOO_LARGE, f"'{name}' must be at most {limit} characters")
        values[name] = value
    return values, ref


# ---------------------------------------------------------------- the measurement


def a_message() -> Any:
    author = SimpleNamespace(get_username=lambda: "ann")
    return SimpleNamespace(
        pk=123456,
        seq=98765,
        author_id=42,
        author=author,
        body="Hello everyone, the release is out: see the notes on the wiki. 🎉",
        created_at=datetime(2026, 12, 7, 10, 30, tzinfo=UTC),
        edited_at=None,
        reactions={"👍": [(7, "ben"), (9, "cy")]},
        reply_to_id=None,
    )


def per_frame_us(work: Any, number: int) -> float:
    return min(timeit.repeat(work, number=number, repeat=5)) / number * 1e6


def main() -> None:
    message = a_message()
    text = json.dumps({"type": "message.send", "body": message.body, "nonce": "n-1", "ref": "r7"})
    frames = protocol.ROOM_CLIENT_FRAMES
    new_frame = protocol.NewMessage(message=protocol.MessageData.of(message))
    old_frame = old_message_frame(message)
    assert json.loads(encode(new_frame)) == json.loads(old_encode(old_frame))
    n = 20_000
    figures = {
        "message broadcast, build + encode": (
            per_frame_us(lambda: old_encode(old_message_frame(message)), n),
            per_frame_us(
                lambda: encode(protocol.NewMessage(message=protocol.MessageData.of(message))), n
            ),
        ),
        "message broadcast, encode only": (
            per_frame_us(lambda: old_encode(old_frame), n),
            per_frame_us(lambda: encode(new_frame), n),
        ),
        "message.send, decode + validate": (
            per_frame_us(lambda: old_parse_send(text), n),
            per_frame_us(lambda: parse_frame(text, frames), n),
        ),
    }
    print(f"{'per frame (µs, best of 5)':38} {'json + rules':>12} {'msgspec':>9}")
    for name, (before, after) in figures.items():
        print(f"{name:38} {before:12.2f} {after:9.2f}   x{before / after:.1f}")


if __name__ == "__main__":
    main()
