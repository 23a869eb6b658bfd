"""static/realtime/protocol.js, the browser's constants, says what the Python
declarations say: every frame type of every socket, the close codes, and the limits.
(It is written by hand in the shape a generator will write it: until then, this keeps
it true.)"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

from chat import protocol as chat_protocol
from chat.consumers import ChatRoomConsumer, RoomListConsumer
from game import protocol as game_protocol
from game.consumers import ArenaConsumer, GameConsumer, LobbyConsumer
from notifications.consumers import NotificationConsumer
from rtsite import consumers as rt_consumers
from rtsite import protocol as rt_protocol

PROTOCOL_JS = Path(__file__).resolve().parents[2] / "static" / "realtime" / "protocol.js"
CONSUMERS = (
    RoomListConsumer,
    ChatRoomConsumer,
    NotificationConsumer,
    LobbyConsumer,
    GameConsumer,
    ArenaConsumer,
)
# Limits the client uses that are settings: the file holds their defaults (the pages use
# the server's value where it sends one).
TABLE = re.compile(r"export const (\w+) = Object\.freeze\(\{\n(.*?)\n\}\);\n", re.S)
SETTING_DEFAULTS = {
    "MAX_FRAME_BYTES": "RT_MAX_FRAME_BYTES",
    "MAX_MESSAGE_LENGTH": "CHAT_MAX_MESSAGE_LENGTH",
    "UNREAD_COUNT_LIMIT": "CHAT_UNREAD_COUNT_LIMIT",
}


def constants() -> dict[str, dict[str, str | int]]:
    text = PROTOCOL_JS.read_text()
    assert text.startswith("// Generated from the frame declarations: do not edit")
    found: dict[str, dict[str, str | int]] = {}
    for name, body in TABLE.findall(text):
        entries: dict[str, str | int] = {}
        for line in body.splitlines():
            match = re.fullmatch(r'  ([A-Z0-9_]+): (?:"([^"]*)"|(\d+)),', line)
            assert match, f"{name}: not a plain entry: {line!r}"
            key, string, number = match.groups()
            assert key not in entries, f"{name}.{key} twice"
            entries[key] = string if string is not None else int(number)
        found[name] = entries
    # Data only: nothing but the four frozen tables (and the header).
    code = TABLE.sub("", text)
    assert code.splitlines()[1:] == [], code
    return found


def key(frame_type: str) -> str:
    return frame_type.upper().replace(".", "_")


def test_frame_types_are_every_declared_one() -> None:
    js = constants()
    client = {key(t): t for c in CONSUMERS for t in c.client_frames}
    server = {key(t): t for c in CONSUMERS for t in c.server_frames}
    assert js["CLIENT"] == client
    assert js["SERVER"] == server


def test_close_codes_are_the_consumers() -> None:
    declared = {
        name.removeprefix("CLOSE_"): value
        for name, value in vars(rt_consumers).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    assert constants()["CLOSE"] == declared


def test_limits_are_the_declared_ones() -> None:
    invite = game_protocol.GAME_CLIENT_FRAMES["invite"].fields["username"]
    fixed = {
        "REF_MAX_LENGTH": rt_protocol.REF_MAX_LENGTH,
        "NONCE_MAX_LENGTH": chat_protocol.NONCE_MAX_LENGTH,
        "MESSAGE_BODY_MAX_LENGTH": chat_protocol.BODY_TRANSPORT_LIMIT,
        "EMOJI_MAX_LENGTH": chat_protocol.EMOJI_MAX_LENGTH,
        "INVITE_CODE_MAX_LENGTH": game_protocol.INVITE_MAX,
        "INVITE_USERNAME_MAX_LENGTH": invite.max_length,
        "ARENA_SEQ_MAX": game_protocol.ARENA_SEQ_MAX,
    }
    limits = constants()["LIMITS"]
    assert set(limits) == set(fixed) | set(SETTING_DEFAULTS)
    assert {name: limits[name] for name in fixed} == fixed


@pytest.mark.parametrize("name", list(SETTING_DEFAULTS))
def test_setting_limits_are_the_settings_defaults(name: str) -> None:
    setting = SETTING_DEFAULTS[name]
    if setting in os.environ:
        pytest.skip(f"{setting} is set here: the default cannot be read")
    assert constants()["LIMITS"][name] == getattr(settings, setting)
