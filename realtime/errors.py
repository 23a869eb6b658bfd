"""The one exception type that carries a client-facing error code and message.

Services raise it for refused actions (muted, too long, ...); the protocol layer raises it
for malformed frames. Consumers turn it into an ``error`` frame.
"""

from __future__ import annotations

import math
from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    AUTH_REQUIRED = "auth_required"
    MUTED = "muted"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    ILLEGAL_MOVE = "illegal_move"
    NOT_YOUR_TURN = "not_your_turn"
    GAME_OVER = "game_over"
    NOT_APPLIED = "not_applied"
    INTERNAL = "internal_error"


# What a person reads when a handler failed (the log has the rest).
SERVER_FAILED = "Something went wrong on the server. Try again."


def try_again_in(seconds: float) -> str:
    """The end of a refusal that passes with time, in whole seconds, rounded up."""
    whole = max(1, math.ceil(seconds))
    return f"Try again in {whole} second{'s' if whole != 1 else ''}."


class ActionError(Exception):
    """A refused action. ``message`` is what a person reads: a plain sentence (or two),
    starting with a capital and ending with a full stop, with no protocol words: pages
    show it as it is (tests/realtime/test_wording.py lists and checks every one)."""

    def __init__(self, code: ErrorCode, message: str, *, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # The client's ``ref`` of the frame that was refused, once it is known.
        self.ref = ref
