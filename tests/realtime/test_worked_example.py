"""docs/architecture.md's worked example ("Adding a live feature: a `chat.pin` frame"),
followed step by step with throwaway classes: a client frame ``message.pin``, a handler
``on_message_pin`` calling a service that broadcasts ``message.pinned`` on commit, and
their rows in the generated tables. None of it is part of the product."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.urls import path

from realtime.broadcast import publish_on_commit
from realtime.consumers import JsonConsumer
from realtime.errors import ActionError, ErrorCode
from realtime.middleware import ProcessMiddleware, SocketEntry
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    ClientFrame,
    Id,
    Meta,
    Ping,
    ServerFrame,
    client_frames,
    encode,
    parse_frame,
    server_frames,
)
from realtime.protocol_tables import client_table, server_table
from rtsite import asgi
from tests.conftest import ORIGIN, checked

pytestmark = pytest.mark.django_db(transaction=True)

PIN_GROUP = "pin-example.room.1"


# Step 1: the client frame, with who may send it and what comes of it.
class MessagePin(ClientFrame, tag="message.pin"):
    """Who: anyone (in this example)
    Reply: `ack`; `message.pinned` to the room"""

    id: Annotated[Id, Meta(description="message id")]


# Step 3: the server frame, and the layer event that carries it to the room's sockets.
class MessagePinned(ServerFrame, tag="message.pinned"):
    event: ClassVar[str] = "chat.pinned"
    id: int


# Step 2: the service the handler calls: it writes (here, nothing) and broadcasts once the
# transaction commits.
def message_pin(*, message_id: int) -> None:
    with transaction.atomic():
        publish_on_commit(PIN_GROUP, MessagePinned(id=message_id))


class PinConsumer(JsonConsumer):
    client_frames = client_frames(Ping, MessagePin)
    server_frames = server_frames(*COMMON_SERVER_FRAMES, MessagePinned)
    handled: ClassVar[list[int]] = []

    async def connect(self) -> None:
        await self.join_group(PIN_GROUP)

    async def on_message_pin(self, *, id: int) -> None:
        PinConsumer.handled.append(id)
        await database_sync_to_async(message_pin)(message_id=id)


def test_the_decoder_accepts_the_frame_and_validates_its_fields() -> None:
    spec, fields, ref = parse_frame(
        '{"type": "message.pin", "id": 42, "ref": "p1"}', PinConsumer.client_frames
    )
    assert (spec.frame, spec.handler_name, fields, ref) == (
        MessagePin,
        "on_message_pin",
        {"id": 42},
        "p1",
    )
    for bad, message in [
        ('{"type": "message.pin", "ref": "p2"}', "'id' is required."),
        ('{"type": "message.pin", "id": "42"}', "'id' must be an integer."),
        ('{"type": "message.pin", "id": -1}', "'id' must be at least 0."),
    ]:
        with pytest.raises(ActionError) as refused:
            parse_frame(bad, PinConsumer.client_frames)
        assert (refused.value.code, refused.value.message) == (ErrorCode.INVALID, message)


def test_the_server_frame_encodes_with_its_type() -> None:
    assert json.loads(encode(MessagePinned(id=42))) == {"type": "message.pinned", "id": 42}
    assert "chat.pinned" in PinConsumer.server_frames.events


async def _frames(communicator: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    frames = []
    for _ in range(count):
        frame = json.loads(await communicator.receive_from(timeout=5))
        checked(frame, ("PinConsumer", PinConsumer.server_frames))
        frames.append(frame)
    return frames


async def test_the_handler_gets_the_fields_and_the_room_gets_the_broadcast() -> None:
    # The site's entry, with the example's socket for its route table (rtsite/routing.py).
    assert asgi.application is not None  # the process set up as the site's is
    app = ProcessMiddleware(SocketEntry([path("ws/pin-example/", PinConsumer.as_asgi())]))
    headers = [(b"host", b"localhost"), (b"origin", ORIGIN.encode())]
    communicator = WebsocketCommunicator(app, "/ws/pin-example/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    try:
        await communicator.send_to(text_data=json.dumps({"type": "ping", "ref": "c"}))
        assert await _frames(communicator, 1) == [{"type": "pong", "ref": "c"}]  # connected
        PinConsumer.handled.clear()
        await communicator.send_to(text_data=json.dumps({"type": "message.pin", "id": 42}))
        got = await _frames(communicator, 2)  # the ack and the broadcast, in either order
        assert sorted(got, key=lambda f: f["type"]) == [
            {"type": "ack"},
            {"type": "message.pinned", "id": 42},
        ]
        assert PinConsumer.handled == [42]
        await communicator.send_to(
            text_data=json.dumps({"type": "message.pin", "id": "x", "ref": "p9"})
        )
        [error] = await _frames(communicator, 1)
        assert (error["type"], error["code"], error["ref"]) == ("error", "invalid", "p9")
        assert PinConsumer.handled == [42]
    finally:
        await communicator.disconnect(timeout=1)


def test_the_tables_show_the_new_frames() -> None:
    client = client_table([Ping, MessagePin], common=[Ping])
    assert client.splitlines()[0] == "| Frame | Fields | Who | Reply |"
    assert (
        "| `message.pin` | `id`: message id | anyone (in this example) "
        "| `ack`; `message.pinned` to the room |"
    ) in client
    assert client.splitlines()[-1] == "| `ping` | \u2013 | anyone | `pong` |"
    assert "| `message.pinned` | `id`: integer |" in server_table([MessagePinned])
