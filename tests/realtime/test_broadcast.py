"""publish_on_commit: a broadcast leaves only after commit, and never after a rollback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from realtime.broadcast import publish_on_commit
from tests.conftest import replace_group_send

pytestmark = pytest.mark.django_db(transaction=True)


async def _subscribe(group: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def _receive(channel: str, timeout: float = 2.0) -> dict | None:
    try:
        return await asyncio.wait_for(get_channel_layer().receive(channel), timeout)
    except TimeoutError:
        return None


async def test_sent_after_commit_encoded_once() -> None:
    channel = await _subscribe("test.realtime.commit")
    seen_inside: list[dict | None] = []

    def work() -> None:
        with transaction.atomic():
            publish_on_commit("test.realtime.commit", {"type": "x", "n": 1}, event="test.event")
            # Still inside the transaction: nothing has left yet.
            seen_inside.append(async_to_sync(_receive)(channel, 0.3))

    await database_sync_to_async(work)()
    assert seen_inside == [None]
    event = await _receive(channel)
    assert event is not None
    assert event["type"] == "test.event"
    assert json.loads(event["frame"]) == {"type": "x", "n": 1}


async def test_nothing_sent_on_rollback() -> None:
    channel = await _subscribe("test.realtime.rollback")

    def work() -> None:
        with transaction.atomic():
            publish_on_commit("test.realtime.rollback", {"type": "x"}, event="test.event")
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await database_sync_to_async(work)()
    assert await _receive(channel, timeout=0.5) is None


async def test_layer_failure_after_commit_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    layer = get_channel_layer()

    async def down(*args: object) -> None:
        raise ConnectionError("redis gone")

    replace_group_send(monkeypatch, layer, down)

    def work() -> None:
        with transaction.atomic():
            publish_on_commit("test.realtime.fail", {"type": "x"}, event="test.event")

    await database_sync_to_async(work)()
    # Sent (and failed) on the loop, after the database thread went on.
    for _ in range(50):
        if "broadcast of test.event to test.realtime.fail failed" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert "broadcast of test.event to test.realtime.fail failed" in caplog.text


async def test_database_thread_does_not_wait_for_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = get_channel_layer()
    release = asyncio.Event()
    sent: list[str] = []
    real_send = layer.group_send

    async def slow(group: str, event: dict) -> None:
        await release.wait()
        sent.append(json.loads(event["frame"])["n"])
        await real_send(group, event)

    replace_group_send(monkeypatch, layer, slow)

    def work(n: int) -> None:
        with transaction.atomic():
            publish_on_commit("test.realtime.order", {"type": "x", "n": n}, event="test.event")

    # Both commits return while Redis is still "slow"; the events then leave in order.
    for n in (1, 2, 3):
        await asyncio.wait_for(database_sync_to_async(work)(n), 2)
    assert sent == []
    release.set()
    for _ in range(50):
        if len(sent) == 3:
            break
        await asyncio.sleep(0.02)
    assert sent == [1, 2, 3]


async def test_one_frame_to_many_groups_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime import broadcast

    channels = [await _subscribe(f"test.realtime.many.{i}") for i in range(3)]
    encoded: list[object] = []
    real_encode = broadcast.encode
    monkeypatch.setattr(
        broadcast, "encode", lambda frame: encoded.append(frame) or real_encode(frame)
    )

    def work() -> None:
        with transaction.atomic():
            groups = [f"test.realtime.many.{i}" for i in range(3)]
            publish_on_commit(groups, {"type": "x", "n": 7}, event="test.event", cursor=7)

    await database_sync_to_async(work)()
    events = [await _receive(channel) for channel in channels]
    assert [json.loads(e["frame"])["n"] for e in events] == [7, 7, 7]
    assert [e["group"] for e in events] == [f"test.realtime.many.{i}" for i in range(3)]
    assert len(encoded) == 1


async def test_an_action_is_acked_only_once_its_broadcast_has_left(
    monkeypatch: pytest.MonkeyPatch, make_room: Any, make_user: Any
) -> None:
    """A process that dies between the ack and the broadcast would leave the sender with
    an ack for a message other processes' sockets never get: the ack waits."""
    from chat import protocol as chat_protocol
    from realtime import broadcast
    from tests.conftest import open_socket, session_cookie

    room = await database_sync_to_async(make_room)()
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    handed_over: list[str] = []
    send = broadcast._group_send

    async def slow_layer(group: str, event: dict[str, Any]) -> None:
        await asyncio.sleep(0.3)  # Redis slow to answer
        await send(group, event)
        handed_over.append(event["type"])

    monkeypatch.setattr(broadcast, "_group_send", slow_layer)
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        await ws.next("sync")
        await ws.send({"type": "message.send", "body": "hello", "ref": "m1"})
        assert (await ws.next("ack"))["ref"] == "m1"
        committed = [t for t in handed_over if t != chat_protocol.Presence.event]
        assert committed == [chat_protocol.NewMessage.event, chat_protocol.RoomActivity.event]
        await ws.next("message")
