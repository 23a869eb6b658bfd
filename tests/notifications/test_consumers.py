"""The notifications socket over the real Redis channel layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group

from notifications import services
from tests.conftest import open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/notifications/"


async def user_and_cookie(make_user: Callable[..., Any]) -> tuple[Any, str]:
    user = await database_sync_to_async(make_user)()
    return user, await database_sync_to_async(session_cookie)(user)


async def send(**kwargs: Any) -> Any:
    return await database_sync_to_async(services.notification_send)(**kwargs)


async def test_live_delivery_to_the_right_sockets(make_user: Callable[..., Any]) -> None:
    alice, alice_cookie = await user_and_cookie(make_user)
    _bob, bob_cookie = await user_and_cookie(make_user)
    async with (
        open_socket(PATH, cookie=alice_cookie) as a,
        open_socket(PATH, cookie=bob_cookie) as b,
        open_socket(PATH) as visitor,
    ):
        for ws in (a, b, visitor):
            assert (await ws.next("sync"))["unread"] == 0
        sent = await send(title="<b>hi</b> alice", users=[alice], level="warning", link="/chat/")
        frame = (await a.next("notification"))["notification"]
        assert (frame["id"], frame["title"], frame["level"]) == (
            sent.pk,
            "<b>hi</b> alice",
            "warning",
        )
        await b.nothing("notification", within=0.5)
        await send(title="members only", to_all_users=True)
        for ws in (a, b):
            assert (await ws.next("notification"))["notification"]["title"] == "members only"
        await visitor.nothing("notification", within=0.5)
        await send(title="site news", to_everyone=True)
        for ws in (a, b, visitor):
            assert (await ws.next("notification"))["notification"]["title"] == "site news"


async def test_group_delivery(make_user: Callable[..., Any]) -> None:
    bob, cookie = await user_and_cookie(make_user)

    def make_group() -> Group:
        group = Group.objects.create(name="editors")
        group.user_set.add(bob)
        return group

    group = await database_sync_to_async(make_group)()
    async with open_socket(PATH, cookie=cookie) as ws:
        await ws.next("sync")
        await send(title="for editors", group=group)
        assert (await ws.next("notification"))["notification"]["title"] == "for editors"


async def test_sockets_follow_group_membership_live(make_user: Callable[..., Any]) -> None:
    bob, cookie = await user_and_cookie(make_user)
    group = await database_sync_to_async(Group.objects.create)(name="editors")
    async with open_socket(PATH, cookie=cookie) as ws:
        await ws.next("sync")
        await send(title="before bob joined", group=group)
        await ws.nothing("notification", within=0.3)

        # Added from the user's side (the admin's user form): the socket joins the group.
        await database_sync_to_async(bob.groups.add)(group)
        catch_up = await ws.next("sync")
        assert catch_up["mode"] == "resume"
        assert catch_up["notifications"] == []  # sent before he joined: not his
        await send(title="for editors", group=group)
        assert (await ws.next("notification"))["notification"]["title"] == "for editors"

        # Removed from the group's side: no more of its notifications.
        await database_sync_to_async(group.user_set.remove)(bob)
        await send(title="after bob left", group=group)
        await send(title="to bob himself", users=[bob])  # published after: a barrier
        assert (await ws.next("notification"))["notification"]["title"] == "to bob himself"

        # Cleared from the group's side, Django names no users after it: still followed.
        await database_sync_to_async(group.user_set.add)(bob)
        await ws.next("sync")
        await database_sync_to_async(group.user_set.clear)()
        await send(title="after the group was cleared", group=group)
        await send(title="barrier", users=[bob])
        assert (await ws.next("notification"))["notification"]["title"] == "barrier"


async def test_marking_read_updates_every_tab(make_user: Callable[..., Any]) -> None:
    alice, cookie = await user_and_cookie(make_user)
    first = await send(title="one", users=[alice])
    await send(title="two", users=[alice])
    async with open_socket(PATH, cookie=cookie) as tab1, open_socket(PATH, cookie=cookie) as tab2:
        sync = await tab1.next("sync")
        assert sync["unread"] == 2
        assert [n["title"] for n in sync["notifications"]] == ["one", "two"]
        await tab2.next("sync")
        await tab1.send({"type": "mark_read", "id": first.pk})
        for tab in (tab1, tab2):
            assert await tab.next("read") == {"type": "read", "ids": [first.pk], "unread": 1}
        await tab2.send({"type": "mark_all_read"})
        for tab in (tab1, tab2):
            assert (await tab.next("read"))["unread"] == 0
        # Marking what is already read changes nothing, and still answers.
        assert await tab1.next("ack") == {"type": "ack"}  # the mark_read above
        await tab1.send({"type": "mark_read", "id": first.pk, "ref": "again"})
        assert await tab1.next("ack") == {"type": "ack", "ref": "again"}
        await tab1.send({"type": "mark_all_read", "ref": "none-left"})
        assert (await tab1.next("ack"))["ref"] == "none-left"
        await tab2.nothing("read")


async def test_missed_while_away_arrives_once_on_resume(make_user: Callable[..., Any]) -> None:
    alice, cookie = await user_and_cookie(make_user)
    seen = await send(title="seen", users=[alice])
    missed = [await send(title=f"missed {i}", users=[alice]) for i in range(2)]
    async with open_socket(f"{PATH}?after_id={seen.pk}", cookie=cookie) as ws:
        sync = await ws.next("sync")
        assert sync["mode"] == "resume"
        # With the one at the cursor, sent just before them (``resume_floor``): the page
        # drops what it has by id.
        assert [n["id"] for n in sync["notifications"]] == [seen.pk, *(n.pk for n in missed)]
        assert sync["unread"] == 3


async def test_bad_frames(make_user: Callable[..., Any]) -> None:
    _alice, cookie = await user_and_cookie(make_user)
    async with open_socket(PATH, cookie=cookie) as ws, open_socket(PATH) as visitor:
        await ws.next("sync")
        await visitor.next("sync")
        await ws.send({"type": "mark_read", "id": 987654})
        assert (await ws.next("error"))["code"] == "not_found"
        await ws.send({"type": "mark_read", "id": "1"})
        assert (await ws.next("error"))["code"] == "invalid"
        await ws.send("[]")
        assert (await ws.next("error"))["code"] == "bad_frame"
        await visitor.send({"type": "mark_all_read"})
        assert (await visitor.next("error"))["code"] == "auth_required"
        await ws.usable()
