"""The per-process hub: one layer membership per process, and recovery after an outage."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db.models import F

from chat import protocol as chat_protocol
from chat import services as chat_services
from chat.models import Message, Room
from realtime import broadcast, live
from realtime.envelope import make_event
from realtime.hub import get_hub
from tests.conftest import open_socket, replace_group_send, through_the_layer

pytestmark = pytest.mark.django_db(transaction=True)


async def test_one_layer_member_per_process_however_many_sockets(
    make_room: Callable[..., Room], make_user: Callable[..., Any], login_cookie: Callable[..., str]
) -> None:
    room = await database_sync_to_async(make_room)()
    user = await database_sync_to_async(make_user)()
    cookie = await database_sync_to_async(login_cookie)(user)
    layer = get_channel_layer()
    group_key = layer._group_key(chat_protocol.room_group(room.pk))
    async with (
        open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as a,
        open_socket(f"/ws/chat/{room.slug}/") as b,
        open_socket(f"/ws/chat/{room.slug}/") as c,
    ):
        for ws in (a, b, c):
            await ws.next("sync")
        assert await layer.connection(0).zcard(group_key) == 1
        assert get_hub().local_count(chat_protocol.room_group(room.pk)) == 3
        await a.send({"type": "message.send", "body": "to all three"})
        for ws in (a, b, c):
            assert (await ws.next("message"))["message"]["body"] == "to all three"
    assert get_hub().local_count(chat_protocol.room_group(room.pk)) == 0
    assert await layer.connection(0).zcard(group_key) == 0


async def test_outage_is_noticed_and_missed_messages_are_resent(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    layer = get_channel_layer()
    real_receive = layer.receive
    outage = asyncio.Event()
    failures = []

    async def receive(channel: str) -> dict[str, Any]:
        if not failures:
            await outage.wait()
            failures.append(channel)
            raise ConnectionError("Redis went away")
        return await real_receive(channel)

    monkeypatch.setattr(layer, "receive", receive)
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")

        # Stored while the layer is down: no broadcast reaches anyone.
        def store_silently() -> Message:
            Room.objects.filter(pk=room.pk).update(seq=F("seq") + 1)
            seq = Room.objects.get(pk=room.pk).seq
            return Message.objects.create(
                room=room, author=author, body="sent during the outage", seq=seq
            )

        missed = await database_sync_to_async(store_silently)()
        outage.set()
        resync = await ws.next("sync")
        assert resync["mode"] == "resume"
        assert [m["id"] for m in resync["messages"]] == [missed.pk]
        assert failures


async def test_a_late_broadcast_becomes_a_resync(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events that reach the hub late (Redis paused, an overload) are not replayed one by
    one: the room's sockets resync once from their cursor, and get them all in one frame."""
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        layer = get_channel_layer()
        real_send = layer.group_send

        async def late(group: str, event: dict[str, Any]) -> None:
            await real_send(group, {**event, "at": event["at"] - 60})  # a minute late

        replace_group_send(monkeypatch, layer, late)
        through_the_layer(monkeypatch)
        for i in range(5):
            await database_sync_to_async(chat_services.message_post)(
                room=room, author=author, body=f"late {i}"
            )
        sync = await ws.next("sync")
        assert sync["mode"] == "resume"
        assert [m["body"] for m in sync["messages"]] == [f"late {i}" for i in range(5)]
        await ws.nothing("message", within=0.3)  # none replayed one by one


async def test_a_fresh_broadcast_after_a_late_one_does_not_hide_it(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A late broadcast is dropped for a resync, and a fresh one right behind it is
    delivered: the resync must still start before the late one (a frozen worker thawed
    this way lost a message: the fresh one had moved the socket's cursor past it)."""
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        layer = get_channel_layer()
        real_send = layer.group_send
        late_ones = {"n": 1}

        async def first_late(group: str, event: dict[str, Any]) -> None:
            if late_ones["n"]:
                late_ones["n"] -= 1
                event = {**event, "at": event["at"] - 60}
            await real_send(group, event)

        replace_group_send(monkeypatch, layer, first_late)
        through_the_layer(monkeypatch)
        for body in ("late", "fresh"):
            await database_sync_to_async(chat_services.message_post)(
                room=room, author=author, body=body
            )
        fresh = await ws.next("message")
        assert fresh["message"]["body"] == "fresh"
        sync = await ws.next("sync")
        assert "late" in [m["body"] for m in sync["messages"]]


async def test_a_resync_starts_below_a_change_still_on_its_way(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two processes publish in the order their own commits end: a socket can be sent seq
    n+1 while n is still on its way. If n then arrives too late and is dropped, the resync
    starts below n, not after n+1, and its cursor does not hide n (a rolling restart under
    load left open pages without such messages for good)."""
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        start = (await ws.next("sync"))["cursor"]
        layer = get_channel_layer()
        real_send = layer.group_send
        held: list[tuple[str, dict[str, Any]]] = []

        async def first_held(group: str, event: dict[str, Any]) -> None:
            if not held:
                held.append((group, event))  # still on its way from its process
                return
            await real_send(group, event)

        replace_group_send(monkeypatch, layer, first_held)
        through_the_layer(monkeypatch)
        for body in ("on its way", "overtook it"):
            await database_sync_to_async(chat_services.message_post)(
                room=room, author=author, body=body
            )
        overtook = await ws.next("message")
        assert overtook["message"]["seq"] == start + 2
        group, event = held[0]
        await real_send(group, {**event, "at": event["at"] - 60})  # arrives too late
        sync = await ws.next("sync")
        assert [m["body"] for m in sync["messages"]][:1] == ["on its way"]
        assert sync["cursor"] == start + 2


async def test_a_rooms_sockets_resyncing_together_share_one_read_while_posts_go_on(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the hub fell behind, a room's sockets resync one after another while the
    room goes on: one history read serves them all (it started after the resync was
    asked for), and what is posted meanwhile reaches them live."""
    from chat import consumers

    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    reads = []
    real_history = consumers._history

    def counted(*args: Any) -> Any:
        read = real_history(*args)
        reads.append(args)
        if len(reads) == 2:  # the first resync read: the room goes on meanwhile
            chat_services.message_post(room=room, author=author, body="meanwhile")
            time.sleep(0.3)  # its broadcast reaches the sockets before the next resync
        return read

    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(open_socket(f"/ws/chat/{room.slug}/")) for _ in range(4)
        ]
        for ws in sockets:
            await ws.next("sync")
        monkeypatch.setattr(consumers, "_history", counted)
        reads.append(("first syncs",))
        layer = get_channel_layer()
        real_send = layer.group_send

        async def late(group: str, event: dict[str, Any]) -> None:
            first_post = event.get("type") == chat_protocol.NewMessage.event and not reads[1:]
            late_by = 60 if first_post else 0
            await real_send(group, {**event, "at": event["at"] - late_by})

        replace_group_send(monkeypatch, layer, late)
        through_the_layer(monkeypatch)
        await database_sync_to_async(chat_services.message_post)(
            room=room, author=author, body="late"
        )
        for ws in sockets:
            sync = await ws.next("sync")
            assert "late" in [m["body"] for m in sync["messages"]]
            assert (await ws.next("message"))["message"]["body"] == "meanwhile"
        assert len(reads) == 2, reads  # the marker and one resync read


async def test_a_deletion_during_a_shared_resync_comes_after_the_sync(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sockets of a room resync one after another from one shared read. A message
    deleted while that read runs reaches them after their sync, never before it: sent
    before, the older read would show the deleted message again."""
    from chat import consumers

    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    doomed = await database_sync_to_async(chat_services.message_post)(
        room=room, author=author, body="to be deleted"
    )
    reads = []
    real_history = consumers._history

    def deleting_meanwhile(*args: Any) -> Any:
        read = real_history(*args)
        reads.append(args)
        if len(reads) == 1:  # the shared resync read
            chat_services.message_delete(messages=[doomed])
            time.sleep(0.3)  # its broadcast reaches the hub before the next socket's turn
        return read

    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(open_socket(f"/ws/chat/{room.slug}/")) for _ in range(3)
        ]
        for ws in sockets:
            await ws.next("sync")
        monkeypatch.setattr(consumers, "_history", deleting_meanwhile)
        layer = get_channel_layer()
        real_send = layer.group_send

        async def first_late(group: str, event: dict[str, Any]) -> None:
            late_by = 60 if not reads and event.get("type") == chat_protocol.NewMessage.event else 0
            await real_send(group, {**event, "at": event["at"] - late_by})

        replace_group_send(monkeypatch, layer, first_late)
        through_the_layer(monkeypatch)
        await database_sync_to_async(chat_services.message_post)(
            room=room, author=author, body="late"
        )
        for ws in sockets:
            sync = await ws.next("sync")
            deleted = await ws.next("message.deleted")
            assert deleted["ids"] == [doomed.pk]
            assert ws.seen.index(sync) < ws.seen.index(deleted)
        assert len(reads) == 1


async def test_a_socket_sent_many_changes_past_one_it_never_got_is_closed_to_resume(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A change whose broadcast was lost after its commit leaves a gap the hub cannot
    see: the socket's in-order cursor stays below it while later changes pile up past
    it. Past MAX_AHEAD of them the socket is closed (4500) to resume from its cursor."""
    monkeypatch.setattr(live, "MAX_AHEAD", 3)
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        layer = get_channel_layer()
        real_send = layer.group_send
        lost: list[dict[str, Any]] = []

        async def lose_the_first(group: str, event: dict[str, Any]) -> None:
            if not lost:
                lost.append(event)
                return
            await real_send(group, event)

        replace_group_send(monkeypatch, layer, lose_the_first)
        through_the_layer(monkeypatch)
        for n in range(5):
            await database_sync_to_async(chat_services.message_post)(
                room=room, author=author, body=f"m{n}"
            )

        async def all_of_them() -> None:
            for _ in range(5):
                await ws.next("message")

        with pytest.raises(AssertionError, match="closed with 4500"):
            await all_of_them()


async def test_a_publisher_backlog_is_sent_as_one_resync_per_group(
    make_room: Callable[..., Room], monkeypatch: pytest.MonkeyPatch
) -> None:
    from realtime import broadcast

    layer = get_channel_layer()
    sent: list[tuple[str, str]] = []

    async def record(group: str, event: dict[str, Any]) -> None:
        sent.append((group, event["type"]))

    replace_group_send(monkeypatch, layer, record)
    publisher = broadcast._publishers.get()
    old = {"at": 0.0, "frame": "{}"}  # long ago
    for group in ("g1", "g2", "g1", "g1"):
        publisher.put(group, {**old, "type": "chat.message", "group": group})
    publisher.put("g3", broadcast.make_event("g3", "chat.message", {"type": "x"}))
    await asyncio.sleep(0.1)
    assert sent == [("g1", "rt.resync"), ("g2", "rt.resync"), ("g3", "chat.message")]


class _Member:
    """A subscriber that keeps what the hub hands it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def hub_deliver(self, event: dict[str, Any]) -> None:
        self.events.append(event)


async def test_first_joins_at_once_go_to_redis_in_one_pipeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connect storm's first members of many groups: the hub joins the layer groups
    together (``group_add_many``), and each group's broadcasts then reach its member."""
    hub = get_hub()
    batches: list[list[str]] = []
    real = hub.layer.group_add_many

    async def counted(groups: list[str], channel: str) -> None:
        batches.append(list(groups))
        await real(groups, channel)

    monkeypatch.setattr(hub.layer, "group_add_many", counted)
    members = {f"test.joins.{i}": _Member() for i in range(30)}
    await asyncio.gather(*(hub.join(group, member) for group, member in members.items()))
    assert len(batches) <= 2  # the hub's own start may take the first alone
    assert sorted(g for batch in batches for g in batch) == sorted(members)
    monkeypatch.setattr(hub, "local_count", lambda group: 0)  # through the layer
    for group in members:
        await realtime_publish(group)
    for _ in range(100):
        if all(m.events for m in members.values()):
            break
        await asyncio.sleep(0.02)
    assert all(len(m.events) == 1 for m in members.values())
    for group, member in members.items():
        await hub.leave(group, member)


async def realtime_publish(group: str) -> None:
    from realtime.broadcast import publish_now

    await publish_now(group, {"type": "x"}, event="test.event")


async def test_the_epoch_moves_with_each_delivery_gap_and_membership() -> None:
    hub = get_hub()
    member = _Member()
    assert hub.epoch("test.epoch") is None
    await hub.join("test.epoch", member)
    joined = hub.epoch("test.epoch")
    assert joined is not None
    await realtime_publish("test.epoch")  # delivered here directly
    delivered = hub.epoch("test.epoch")
    assert delivered is not None
    assert delivered > joined
    hub._note_gaps({"test.epoch"})
    assert (hub.epoch("test.epoch") or 0) > delivered
    await hub.leave("test.epoch", member)
    assert hub.epoch("test.epoch") is None


async def test_a_frame_with_nothing_stored_reaches_this_process_once_without_the_layer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process hands its own presence and typing frames to its own sockets itself: with
    the layer swallowing everything they still arrive; with the layer working, the copy
    it brings back is not delivered again."""
    hub = get_hub()
    member = _Member()
    await hub.join("test.local", member)
    await realtime_publish("test.local")
    await asyncio.sleep(0.3)  # the layer's copy comes back meanwhile
    assert len(member.events) == 1
    layer = get_channel_layer()

    async def swallowed(group: str, event: dict[str, Any]) -> None:
        pass

    replace_group_send(monkeypatch, layer, swallowed)
    await realtime_publish("test.local")
    assert len(member.events) == 2
    await hub.leave("test.local", member)


async def test_a_process_does_not_send_its_own_hub_what_it_delivered_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a process handed to its own sockets goes through the layer to the other
    processes' hubs only: its own hub would read the copy back only to drop it."""
    hub = get_hub()
    member = _Member()
    await hub.join("test.own", member)
    read_back: list[dict[str, Any]] = []
    real = hub.deliver_from_layer

    async def reading(event: dict[str, Any]) -> None:
        read_back.append(event)
        await real(event)

    monkeypatch.setattr(hub, "deliver_from_layer", reading)
    layer = get_channel_layer()
    other = type(layer)(hosts=layer.hosts, prefix=layer.prefix)  # another process's
    other_hub = await other.new_channel(prefix="rtsite-hub")
    await other.group_add("test.own", other_hub)
    await realtime_publish("test.own")  # nothing stored: handed over at once
    await _stored("test.own", 1)  # the hub knows no cursor yet: through the layer
    for _ in range(100):
        if len(member.events) == 2:
            break
        await asyncio.sleep(0.02)
    await _stored("test.own", 2)  # it follows the one handed over: at once
    await asyncio.sleep(0.3)  # a copy back would have arrived meanwhile
    assert [e.get("cursor") for e in member.events] == [None, 1, 2]
    assert [e.get("cursor") for e in read_back] == [1]  # only the one it had not delivered
    assert [e.get("cursor") for e in [await other.receive(other_hub) for _ in range(3)]] == [
        None,
        1,
        2,
    ]
    await other.group_discard("test.own", other_hub)
    await hub.leave("test.own", member)


async def test_a_stored_things_frame_goes_through_the_layer_in_order(
    make_room: Callable[..., Room],
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message (a frame with a cursor) reaches even this process's sockets through the
    layer only: delivered at once, it could overtake another process's earlier message
    and move the socket's cursor past it."""
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()
    async with open_socket(f"/ws/chat/{room.slug}/") as ws:
        await ws.next("sync")
        layer = get_channel_layer()

        async def swallowed(group: str, event: dict[str, Any]) -> None:
            pass

        replace_group_send(monkeypatch, layer, swallowed)
        await database_sync_to_async(chat_services.message_post)(
            room=room, author=author, body="through the layer"
        )
        await ws.nothing("message", within=0.5)  # the hub knew no cursor of the room yet


async def _stored(group: str, cursor: int) -> None:
    """This process publishing a stored thing at ``cursor`` (as a commit does)."""
    await broadcast._group_send(group, make_event(group, "test.event", {"type": "x"}, cursor))


async def _from_elsewhere(group: str, cursor: int) -> None:
    """Another process's stored thing at ``cursor``, reaching this hub through the layer."""
    await get_channel_layer().group_send(
        group, make_event(group, "test.event", {"type": "x"}, cursor)
    )


async def _cursors(member: _Member, count: int) -> list[int]:
    for _ in range(100):
        if len(member.events) >= count:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # and nothing more (a copy back from the layer)
    return [event["cursor"] for event in member.events]


async def test_a_stored_thing_that_follows_the_last_one_is_handed_over_at_once_and_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = get_hub()
    member = _Member()
    await hub.join("test.ordered", member)
    await _from_elsewhere("test.ordered", 1)
    assert await _cursors(member, 1) == [1]
    # This process's own next one: handed over before the layer has even been asked,
    # and its copy from the layer skipped.
    await _stored("test.ordered", 2)
    assert [event["cursor"] for event in member.events] == [1, 2]
    assert await _cursors(member, 2) == [1, 2]
    # With the layer swallowing everything, the next still arrives here.
    layer = get_channel_layer()

    async def swallowed(group: str, event: dict[str, Any]) -> None:
        pass

    replace_group_send(monkeypatch, layer, swallowed)
    await _stored("test.ordered", 3)
    assert [event["cursor"] for event in member.events] == [1, 2, 3]

    # A layer that fails: the one sent as it failed went, nothing more goes at once
    # (during an outage, the sockets' resync would send it all again).
    async def failing(group: str, event: dict[str, Any]) -> None:
        raise ConnectionError("Redis away")

    replace_group_send(monkeypatch, layer, failing)
    await _stored("test.ordered", 4)
    await _stored("test.ordered", 5)
    assert [event["cursor"] for event in member.events] == [1, 2, 3, 4]
    await hub.leave("test.ordered", member)


async def test_a_stored_thing_after_a_gap_waits_for_the_layer_and_what_follows_it_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = get_hub()
    member = _Member()
    await hub.join("test.gap", member)
    await _from_elsewhere("test.gap", 1)
    assert await _cursors(member, 1) == [1]
    # The layer holds what this process sends, until let go.
    layer = get_channel_layer()
    send = layer.group_send
    held: list[tuple[str, dict[str, Any]]] = []

    async def holding(group: str, event: dict[str, Any]) -> None:
        held.append((group, event))

    replace_group_send(monkeypatch, layer, holding)
    # 2 is another process's, still on its way: this process's 3 must not overtake it.
    await _stored("test.gap", 3)
    assert [event["cursor"] for event in member.events] == [1]
    # Nor may its 4 overtake its own 3, still on its way through the layer, though the
    # hub was handed a 3 meanwhile (in a group whose cursors are not one by one).
    hub.cursors["test.gap"] = 3
    await _stored("test.gap", 4)
    assert [event["cursor"] for event in member.events] == [1]
    replace_group_send(monkeypatch, layer, send)
    await _from_elsewhere("test.gap", 2)
    for group, event in held:
        await send(group, event)
    assert await _cursors(member, 4) == [1, 2, 3, 4]
    # All back: the next one goes at once again.
    await _stored("test.gap", 5)
    assert [event["cursor"] for event in member.events] == [1, 2, 3, 4, 5]
    await hub.leave("test.gap", member)


async def test_after_a_gap_in_the_layer_nothing_goes_at_once_until_the_layer_hands_one_over() -> (
    None
):
    hub = get_hub()
    member = _Member()
    await hub.join("test.lost", member)
    await _from_elsewhere("test.lost", 1)
    assert await _cursors(member, 1) == [1]
    hub._note_gaps({"test.lost"})  # broadcasts may have been lost from here on
    await _stored("test.lost", 2)
    # Through the layer (its copy carries ``via``; one handed over at once, ``origin``),
    # which may already have brought it back.
    assert await _cursors(member, 2) == [1, 2]
    assert "via" in member.events[1]
    assert "origin" not in member.events[1]
    await hub.leave("test.lost", member)
