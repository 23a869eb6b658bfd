"""Server frames are declared as typed structs (each app's protocol.py), the suite checks
every frame it receives against them (tests/conftest.py), and docs/protocol.md documents
exactly the declared frames of each socket, both ways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chat.consumers import ChatRoomConsumer, RoomListConsumer
from game.consumers import ArenaConsumer, GameConsumer, LobbyConsumer
from notifications.consumers import NotificationConsumer
from realtime.consumers import JsonConsumer
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    UNSET,
    Payload,
    ServerFrame,
    UnsetType,
    frame_type,
    server_frames,
)
from tests.conftest import checked

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SOCKETS: dict[str, type[JsonConsumer]] = {
    "Chat room list": RoomListConsumer,
    "Chat room:": ChatRoomConsumer,
    "Notifications": NotificationConsumer,
    "Game lobby": LobbyConsumer,
    "Game:": GameConsumer,
    "Snake arena": ArenaConsumer,
}
COMMON = {frame_type(frame) for frame in COMMON_SERVER_FRAMES}


class Who(Payload):
    id: int


class X(ServerFrame, tag="x"):
    n: int
    who: Who | None
    ids: list[int]
    extra: str | UnsetType = UNSET


def test_shapes_are_checked() -> None:
    frames = ("Test", server_frames(X))
    good: dict[str, Any] = {"type": "x", "n": 1, "who": None, "ids": [1, 2], "ref": "r"}
    checked(good, frames)
    checked({**good, "who": {"id": 3}, "extra": "e"}, frames)
    bad = [
        {**good, "n": "1"},  # wrong type
        {**good, "n": True},  # a bool is not an id
        {**good, "ids": [1, "2"]},
        {**good, "who": {"id": 3, "name": "x"}},  # undeclared nested field
        {**good, "surprise": 1},  # undeclared field
        {k: v for k, v in good.items() if k != "n"},  # missing field
        {**good, "extra": None},  # may be absent, not null
        {"type": "y"},  # undeclared frame type
    ]
    for frame in bad:
        with pytest.raises(AssertionError):
            checked(frame, frames)


def sections() -> dict[str, str]:
    text = DOCS.read_text()
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return {part.split("\n", 1)[0]: part for part in parts[1:]}


def subsection(section: str, title: str) -> str:
    match = re.search(rf"^### {title}\n(.*?)(?=^### |\Z)", section, flags=re.M | re.S)
    return match.group(1) if match else ""


def section_of(name: str) -> str:
    found = [text for heading, text in sections().items() if heading.startswith(name)]
    assert len(found) == 1, name
    return found[0]


@pytest.mark.parametrize("name", list(SOCKETS))
def test_the_docs_list_each_sockets_server_frames_as_declared(name: str) -> None:
    consumer = SOCKETS[name]
    server = subsection(section_of(name), "Server → client")
    in_json = set(re.findall(r'"type": "([^"]+)"', server))
    in_text = set(re.findall(r"`([a-z_.]+)`", server))
    declared = set(consumer.server_frames) - COMMON
    undocumented = declared - in_json - in_text
    undeclared = in_json - COMMON - declared
    assert not undocumented, f"declared, not documented: {undocumented}"
    assert not undeclared, f"documented, not declared: {undeclared}"


@pytest.mark.parametrize("name", list(SOCKETS))
def test_the_docs_list_each_sockets_client_frames_as_declared(name: str) -> None:
    consumer = SOCKETS[name]
    client = subsection(section_of(name), "Client → server")
    rows = re.findall(r"^\| (`[^|]+`) \|", client, flags=re.M)
    documented = {name for row in rows for name in re.findall(r"`([a-z_.]+)`", row)}
    assert documented | {"ping"} == set(consumer.client_frames)


def test_the_common_frames_are_documented() -> None:
    common = subsection(section_of("Common to every socket"), "Server → client")
    assert set(re.findall(r'"type": "([^"]+)"', common)) == COMMON


def test_the_docs_name_every_frame_answered_only_when_it_carries_a_ref() -> None:
    """Every frame gets one reply, but the fire-and-forget ones (declared ``ack=False``)
    only when they carry a ref: the docs name exactly those (they named only ``typing``)."""
    common = section_of("Common to every socket")
    sentence = re.search(
        r"Fire-and-forget frames are answered.*?carry a `ref`:(.*?)\.", common, re.S
    )
    assert sentence is not None
    named = set(re.findall(r"`([a-z_.]+)`", sentence.group(1)))
    declared = {
        spec.type
        for consumer in SOCKETS.values()
        for spec in consumer.client_frames.values()
        if not spec.ack
    }
    assert named == declared
