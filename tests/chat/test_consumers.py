"""The chat sockets over the real Redis channel layer."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import ANY

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from chat import services
from chat.consumers import _viewer
from chat.models import Block, Message, ReadState, Room
from chat.services.mentions import mention_subject
from common.redis import get_redis
from notifications.models import Notification
from tests.conftest import open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def room(make_room: Callable[..., Room]) -> Room:
    return make_room(retention=0)


@pytest.fixture
def alice(make_user: Callable[..., Any]) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(make_user: Callable[..., Any]) -> Any:
    return make_user("bob")


@pytest.fixture
def cookies(login_cookie: Callable[[Any], str], alice: Any, bob: Any) -> dict[str, str]:
    return {"alice": login_cookie(alice), "bob": login_cookie(bob)}


def path(room: Room) -> str:
    return f"/ws/chat/{room.slug}/"


async def posted(room: Room, author: Any, count: int) -> list[int]:
    def work() -> list[int]:
        return [
            services.message_post(room=room, author=author, body=f"m{i}").pk for i in range(count)
        ]

    return await database_sync_to_async(work)()


async def test_connect_sends_history_and_presence(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 3)
    async with open_socket(path(room), cookie=cookies["alice"]) as ws:
        sync = await ws.next("sync")
        assert sync["mode"] == "recent"
        assert [m["id"] for m in sync["messages"]] == ids
        assert sync["messages"][0]["author"] == {"id": alice.pk, "username": "alice"}
        assert sync["has_more"] is False
        assert sync["me"] == {"id": alice.pk, "username": "alice"}
        assert sync["room"]["slug"] == room.slug


async def test_message_reaches_everyone_including_sender(
    room: Room, cookies: dict[str, str]
) -> None:
    async with (
        open_socket(path(room), cookie=cookies["alice"]) as a,
        open_socket(path(room), cookie=cookies["bob"]) as b,
    ):
        await a.next("sync")
        await b.next("sync")
        await a.send({"type": "message.send", "body": f"  {XSS}  ", "ref": "r1"})
        ack = await a.next("ack")
        assert ack["ref"] == "r1"
        for ws in (a, b):
            message = (await ws.next("message"))["message"]
            assert message["id"] == ack["id"]
            assert message["body"] == XSS  # trimmed, stored and sent verbatim
            assert message["author"]["username"] == "alice"
        # Persisted before it was published.
        assert await database_sync_to_async(Message.objects.filter(pk=ack["id"]).exists)()


async def test_join_and_leave_events(room: Room, cookies: dict[str, str]) -> None:
    async with open_socket(path(room), cookie=cookies["alice"]) as a:
        assert [u["username"] for u in (await a.next("sync"))["online"]] == ["alice"]
        assert [u["username"] for u in (await a.next("presence"))["joined"]] == ["alice"]
        async with open_socket(path(room), cookie=cookies["bob"]) as b:
            sync = await b.next("sync")
            assert [u["username"] for u in sync["online"]] == ["alice", "bob"]
            joined = await a.next("presence")
            assert (joined["joined"], joined["left"]) == ([sync["me"]], [])
            # A second tab of the same user is not a second join.
            async with open_socket(path(room), cookie=cookies["bob"]) as b2:
                await b2.next("sync")
                await a.nothing("presence", within=0.6)
            await a.nothing("presence", within=0.6)
        left = await a.next("presence")
        assert ([u["username"] for u in left["left"]], left["joined"]) == (["bob"], [])


@override_settings(CHAT_PRESENCE_BATCH_SECONDS=1.5)
async def test_joins_are_batched(room: Room, make_user: Callable[..., Any]) -> None:
    users = [await database_sync_to_async(make_user)() for _ in range(5)]
    cookies = [await database_sync_to_async(session_cookie)(u) for u in users]
    async with open_socket(path(room)) as watcher:
        await watcher.next("sync")
        async with contextlib.AsyncExitStack() as stack:
            for cookie in cookies:
                await stack.enter_async_context(open_socket(path(room), cookie=cookie))
            frame = await watcher.next("presence")
            assert {u["id"] for u in frame["joined"]} == {u.pk for u in users}


async def test_typing_indicator(room: Room, cookies: dict[str, str]) -> None:
    async with (
        open_socket(path(room), cookie=cookies["alice"]) as a,
        open_socket(path(room), cookie=cookies["bob"]) as b,
    ):
        await a.next("sync")
        await b.next("sync")
        await a.send({"type": "typing"})
        typing = await b.next("typing")
        assert typing["user"]["username"] == "alice"
        assert typing["expires_in"] == 5000  # the indicator expires by itself
        await a.send({"type": "typing"})  # within a second: not repeated
        await b.nothing("typing", within=0.5)


async def test_history_by_cursor(room: Room, alice: Any, cookies: dict[str, str]) -> None:
    ids = await posted(room, alice, 7)
    with override_settings(CHAT_HISTORY_PAGE_SIZE=3):
        async with open_socket(path(room), cookie=cookies["alice"]) as ws:
            sync = await ws.next("sync")
            assert [m["id"] for m in sync["messages"]] == ids[-3:]
            assert sync["has_more"] is True
            await ws.send({"type": "history", "before_id": ids[-3], "ref": "h"})
            page = await ws.next("history")
            assert [m["id"] for m in page["messages"]] == ids[1:4]
            assert page["has_more"] is True
            assert page["ref"] == "h"
            await ws.send({"type": "history", "before_id": ids[1]})
            last = await ws.next("history")
            assert [m["id"] for m in last["messages"]] == ids[:1]
            assert last["has_more"] is False


async def test_a_first_sync_cursor_counts_changes_to_messages_off_the_page(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 4)  # seq 1..4
    await database_sync_to_async(services.message_delete_own)(
        room=room, user=alice, message_id=ids[0]
    )  # seq 5, on a message the latest page leaves out
    with override_settings(CHAT_HISTORY_PAGE_SIZE=2):
        async with open_socket(path(room), cookie=cookies["alice"]) as ws:
            sync = await ws.next("sync")
            assert [m["seq"] for m in sync["messages"]] == [3, 4]
            # The page counts changes from here: a gap below 5 would never fill.
            assert sync["cursor"] == 5


async def test_resume_sends_everything_after_the_cursor(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 5)
    # The cursor is the room's change counter: the second message's seq is 2.
    async with open_socket(f"{path(room)}?after_id=2", cookie=cookies["alice"]) as ws:
        sync = await ws.next("sync")
        assert sync["mode"] == "resume"
        assert [m["id"] for m in sync["messages"]] == ids[2:]
        assert sync["cursor"] == 5


async def test_resume_too_far_behind_resets(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 6)
    with override_settings(CHAT_RESUME_LIMIT=2, CHAT_HISTORY_PAGE_SIZE=3):
        async with open_socket(f"{path(room)}?after_id=1", cookie=cookies["alice"]) as ws:
            sync = await ws.next("sync")
            assert sync["mode"] == "reset"
            assert [m["id"] for m in sync["messages"]] == ids[-3:]
            assert sync["has_more"] is True


async def test_bad_cursor_is_ignored(room: Room, alice: Any) -> None:
    await posted(room, alice, 2)
    async with open_socket(f"{path(room)}?after_id=-5x") as ws:
        assert (await ws.next("sync"))["mode"] == "recent"


async def test_anonymous_may_read_but_not_post(room: Room, cookies: dict[str, str]) -> None:
    async with (
        open_socket(path(room)) as anon,
        open_socket(path(room), cookie=cookies["alice"]) as a,
    ):
        sync = await anon.next("sync")
        assert sync["me"] is None
        await a.next("sync")
        await anon.send({"type": "message.send", "body": "hi"})
        assert (await anon.next("error"))["code"] == "auth_required"
        await anon.send({"type": "typing"})
        assert (await anon.next("error"))["code"] == "auth_required"
        await a.send({"type": "message.send", "body": "visible to all"})
        assert (await anon.next("message"))["message"]["body"] == "visible to all"


@override_settings(CHAT_ANONYMOUS_READ=False)
async def test_anonymous_reading_can_be_turned_off(room: Room) -> None:
    async with open_socket(path(room)) as anon:
        with pytest.raises(AssertionError, match="closed with 4403"):
            await anon.next("sync")


async def test_unknown_room_closes_with_4404() -> None:
    async with open_socket("/ws/chat/no-such-room/") as ws:
        with pytest.raises(AssertionError, match="closed with 4404"):
            await ws.next("sync")


async def test_muted_and_overlong_posts_are_refused(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    async with open_socket(path(room), cookie=cookies["alice"]) as ws:
        await ws.next("sync")
        await ws.send({"type": "message.send", "body": "x" * 2001})
        error = await ws.next("error")
        assert error["code"] == "too_large"
        assert "2,000" in error["message"]
        await ws.send({"type": "message.send", "body": "   "})
        assert (await ws.next("error"))["code"] == "invalid"
        await database_sync_to_async(services.user_mute)(room=room, user=alice)
        await ws.send({"type": "message.send", "body": "let me speak", "ref": "m"})
        error = await ws.next("error")
        assert (error["code"], error["ref"]) == ("muted", "m")
        # Nor may a muted user look as if about to post.
        async with open_socket(path(room), cookie=cookies["bob"]) as other:
            await other.next("sync")
            await ws.send({"type": "typing", "ref": "t"})
            error = await ws.next("error")
            assert (error["code"], error["ref"]) == ("muted", "t")
            await other.nothing("typing")
        # A body of invisible characters only is empty; control characters are stripped.
        await ws.send({"type": "message.send", "body": "\u200b\ufeff\u2060 \x00"})
        assert (await ws.next("error"))["code"] == "invalid"
        await ws.usable()
    assert await database_sync_to_async(Message.objects.filter(room=room).count)() == 0


async def test_deletion_is_broadcast(room: Room, alice: Any, cookies: dict[str, str]) -> None:
    ids = await posted(room, alice, 3)
    async with open_socket(path(room), cookie=cookies["bob"]) as ws:
        await ws.next("sync")

        def delete() -> int:
            return services.message_delete(messages=Message.objects.filter(pk__in=ids[:2]))

        assert await database_sync_to_async(delete)() == 2
        assert sorted((await ws.next("message.deleted"))["ids"]) == ids[:2]


async def test_room_list_counts_are_live(room: Room, cookies: dict[str, str]) -> None:
    async with open_socket("/ws/chat/") as lobby:
        rooms = {r["slug"]: r["online"] for r in (await lobby.next("rooms"))["rooms"]}
        assert rooms[room.slug] == 0
        async with open_socket(path(room), cookie=cookies["alice"]) as a:
            await a.next("sync")
            update = await lobby.next("room.online")
            assert (update["slug"], update["online"]) == (room.slug, 1)
        update = await lobby.next("room.online")
        assert (update["slug"], update["online"]) == (room.slug, 0)


@pytest.mark.parametrize("anonymous_read", [False, True])
async def test_visitors_on_the_room_list_are_not_told_who_posts_or_whom_it_mentions(
    anonymous_read: bool, room: Room, alice: Any, bob: Any, cookies: dict[str, str]
) -> None:
    """``room.activity`` names the author and the users mentioned: it is for logged-in
    users' unread counts. A visitor's room list (which has none) gets the rooms and who
    is online; on a site closed to visitors too."""
    with override_settings(CHAT_ANONYMOUS_READ=anonymous_read):
        async with (
            open_socket("/ws/chat/") as visitor,
            open_socket("/ws/chat/", cookie=cookies["bob"]) as member,
        ):
            await visitor.next("rooms")
            await member.next("rooms")
            await database_sync_to_async(services.message_post)(
                room=room, author=alice, body="@bob hello"
            )
            assert (await member.next("room.activity"))["mentions"] == [bob.pk]
            await visitor.nothing("room.activity")
            await visitor.usable()


@override_settings(CHAT_ONLINE_LIST_LIMIT=1)
async def test_large_rooms_list_some_users_and_count_all(
    room: Room, cookies: dict[str, str]
) -> None:
    async with open_socket(path(room), cookie=cookies["alice"]) as a:
        await a.next("sync")
        async with open_socket(path(room), cookie=cookies["bob"]) as b:
            sync = await b.next("sync")
            assert sync["online_count"] == 2
            assert len(sync["online"]) == 1
            assert sync["online"][0]["username"] in {"alice", "bob"}


# ------------------------------------------------------------ edits, deletions, reactions


async def test_an_edit_a_reaction_and_a_deletion_reach_every_page_live(
    room: Room, cookies: dict[str, str]
) -> None:
    async with (
        open_socket(path(room), cookie=cookies["alice"]) as a,
        open_socket(path(room), cookie=cookies["bob"]) as b,
    ):
        await a.next("sync")
        await b.next("sync")
        await a.send({"type": "message.send", "body": "helo", "ref": "s"})
        message_id = (await a.next("ack"))["id"]
        await b.next("message")
        await a.send({"type": "message.edit", "id": message_id, "body": "hello", "ref": "e"})
        assert (await a.next("ack"))["ref"] == "e"
        edited = (await b.next("message.updated"))["message"]
        assert (edited["body"], edited["seq"]) == ("hello", 2)
        assert edited["edited_at"] is not None
        # Bob may not edit or delete Alice's message; he may react to it.
        await b.send({"type": "message.edit", "id": message_id, "body": "mine", "ref": "x"})
        assert (await b.next("error"))["code"] == "forbidden"
        await b.send({"type": "reaction.toggle", "id": message_id, "emoji": "👍", "ref": "r"})
        await b.next("ack")
        assert (await a.next("message.updated"))["message"]["seq"] == 2  # the edit
        reacted = (await a.next("message.updated"))["message"]
        assert [
            (r["emoji"], [u["username"] for u in r["users"]]) for r in reacted["reactions"]
        ] == [("👍", ["bob"])]
        await a.send({"type": "message.delete", "id": message_id})
        deleted = await b.next("message.deleted")
        assert (deleted["ids"], deleted["seq"]) == ([message_id], 4)


async def test_a_page_that_was_away_gets_edits_and_deletions_on_resume(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 4)  # seq 1..4

    def while_away() -> None:
        services.message_edit(room=room, user=alice, message_id=ids[0], body="first, edited")
        services.message_delete_own(room=room, user=alice, message_id=ids[1])
        services.message_post(room=room, author=alice, body="new")

    await database_sync_to_async(while_away)()
    async with open_socket(f"{path(room)}?after_id=4", cookie=cookies["bob"]) as ws:
        sync = await ws.next("sync")
        assert sync["mode"] == "resume"
        assert sync["messages"][0]["id"] == ids[0]
        assert [m["body"] for m in sync["messages"]] == ["first, edited", "new"]
        assert sync["deleted"] == [ids[1]]
        assert sync["cursor"] == 7


async def test_a_resend_with_the_same_nonce_is_acked_with_the_stored_message(
    room: Room, cookies: dict[str, str]
) -> None:
    async with open_socket(path(room), cookie=cookies["alice"]) as ws:
        await ws.next("sync")
        frame = {"type": "message.send", "body": "only once", "nonce": "k1"}
        await ws.send({**frame, "ref": "1"})
        first = await ws.next("ack")
        await ws.send({**frame, "ref": "2"})
        again = await ws.next("ack")
        assert first["id"] == again["id"]
        await ws.next("message")
        await ws.nothing("message", within=0.5)


async def test_a_nonce_names_a_send_in_one_room_only(
    room: Room, make_room: Callable[..., Room], cookies: dict[str, str]
) -> None:
    """The same nonce sent to another room is another message, stored there; it was acked
    with the first room's message and stored nothing."""
    other = await database_sync_to_async(make_room)()
    async with (
        open_socket(path(room), cookie=cookies["alice"]) as a,
        open_socket(path(other), cookie=cookies["alice"]) as b,
    ):
        await a.next("sync")
        await b.next("sync")
        await a.send({"type": "message.send", "body": "in A", "nonce": "n1", "ref": "a"})
        in_a = await a.next("ack")
        await b.send({"type": "message.send", "body": "in B", "nonce": "n1", "ref": "b"})
        in_b = await b.next("ack")
        assert in_b["id"] != in_a["id"]
        assert (await b.next("message"))["message"]["body"] == "in B"
        # A retry in B is still a retry.
        await b.send({"type": "message.send", "body": "in B", "nonce": "n1", "ref": "b2"})
        assert (await b.next("ack"))["id"] == in_b["id"]
    stored = await database_sync_to_async(
        lambda: sorted(Message.objects.values_list("room_id", "body"))
    )()
    assert stored == sorted([(room.pk, "in A"), (other.pk, "in B")])


async def test_context_loads_around_a_message_and_says_when_it_is_gone(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 9)
    await database_sync_to_async(services.message_delete)(
        messages=Message.objects.filter(pk=ids[4])
    )
    with override_settings(CHAT_HISTORY_PAGE_SIZE=4):
        async with open_socket(path(room), cookie=cookies["bob"]) as ws:
            await ws.next("sync")
            await ws.send({"type": "context", "id": ids[2]})
            around = await ws.next("context")
            assert around["found"] is True
            # Two before, the message, two after (the deleted one is not shown).
            assert [m["id"] for m in around["messages"]] == [*ids[0:4], ids[5]]
            assert (around["has_older"], around["has_newer"]) == (False, True)
            await ws.send({"type": "context", "id": ids[4]})
            gone = await ws.next("context")
            assert gone["found"] is False
            await ws.send({"type": "newer", "after_id": ids[5]})
            newer = await ws.next("newer")
            assert [m["id"] for m in newer["messages"]] == ids[6:]
            assert newer["has_more"] is False


# ------------------------------------------------------------ read state


async def test_read_state_syncs_to_the_users_other_pages_and_the_room_list(
    room: Room, bob: Any, alice: Any, cookies: dict[str, str]
) -> None:
    async with open_socket(path(room), cookie=cookies["alice"]) as first:
        sync = await first.next("sync")
        assert sync["last_read_id"] == 0  # a first visit: nothing is unread
    ids = await posted(room, bob, 3)
    await database_sync_to_async(services.message_post)(room=room, author=bob, body="@alice look")
    async with (
        open_socket("/ws/chat/", cookie=cookies["alice"]) as lobby,
        open_socket(path(room), cookie=cookies["alice"]) as tab1,
        open_socket(path(room), cookie=cookies["alice"]) as tab2,
    ):
        mine = {r["slug"]: r for r in (await lobby.next("rooms"))["rooms"]}[room.slug]
        assert (mine["unread"], mine["mentions"]) == (4, 1)
        assert (await tab1.next("sync"))["last_read_id"] == 0
        await tab2.next("sync")
        # A new message counts live on the room list, with the mention.
        await database_sync_to_async(services.message_post)(
            room=room, author=bob, body="and @alice again"
        )
        activity = await lobby.next("room.activity")
        assert activity["slug"] == room.slug
        assert activity["mentions"] == [alice.pk]
        assert activity["id"] > mine["counted_to"]
        # Reading in one tab tells the other tab and the list.
        await tab1.send({"type": "read", "id": ids[1]})
        for socket in (tab1, tab2, lobby):
            read = await socket.next("read")
            assert (read["room"], read["last_read_id"], read["unread"], read["mentions"]) == (
                room.slug,
                ids[1],
                3,
                2,
            )


async def test_joining_from_the_room_list_counts_the_room_from_then_on_in_every_tab(
    room: Room, alice: Any, bob: Any, cookies: dict[str, str]
) -> None:
    """``room.join``: a read cursor at the room's newest message (what came before is not
    unread), heard by every room list of the user; a visitor and an unknown room are
    refused in words."""
    await posted(room, bob, 2)
    async with (
        open_socket("/ws/chat/", cookie=cookies["alice"]) as tab1,
        open_socket("/ws/chat/", cookie=cookies["alice"]) as tab2,
        open_socket("/ws/chat/") as visitor,
    ):
        for ws in (tab1, tab2, visitor):
            listed = {r["slug"]: r for r in (await ws.next("rooms"))["rooms"]}[room.slug]
            assert listed["unread"] is None  # not joined
        await tab1.send({"type": "room.join", "slug": room.slug, "ref": "j"})
        assert (await tab1.next("ack"))["ref"] == "j"
        for ws in (tab1, tab2):
            read = await ws.next("read")
            assert (read["room"], read["unread"], read["mentions"]) == (room.slug, 0, 0)
        await tab1.send({"type": "room.join", "slug": "no-such-room", "ref": "n"})
        error = await tab1.next("error")
        assert (error["code"], error["message"]) == ("not_found", "This room no longer exists.")
        await visitor.send({"type": "room.join", "slug": room.slug, "ref": "v"})
        error = await visitor.next("error")
        assert (error["code"], error["message"]) == ("auth_required", "Log in to join rooms.")
    state = await database_sync_to_async(ReadState.objects.get)(user=alice, room=room)
    assert (
        state.last_read_id
        == await database_sync_to_async(lambda: Message.objects.filter(room=room).latest("id").pk)()
    )
    await database_sync_to_async(services.message_post)(room=room, author=bob, body="@alice hi")
    async with open_socket("/ws/chat/", cookie=cookies["alice"]) as lobby:
        mine = {r["slug"]: r for r in (await lobby.next("rooms"))["rooms"]}[room.slug]
        assert (mine["unread"], mine["mentions"]) == (1, 1)


async def test_a_read_cursor_goes_no_further_than_the_rooms_newest_message(
    room: Room, make_room: Callable[..., Room], bob: Any, cookies: dict[str, str]
) -> None:
    """A ``read`` past the room's newest message (made up, or another room's) would have
    silenced the room's counts for good: the cursor only moves forward."""
    other = await database_sync_to_async(make_room)()
    async with open_socket(path(room), cookie=cookies["alice"]) as ws:
        assert (await ws.next("sync"))["last_read_id"] == 0  # a first visit
        ids = await posted(room, bob, 2)
        elsewhere = await posted(other, bob, 1)
        await ws.send({"type": "read", "id": 2**63 - 1})
        read = await ws.next("read")
        assert (read["last_read_id"], read["unread"]) == (ids[-1], 0)
        await ws.send({"type": "read", "id": elsewhere[0]})  # newer than this room's
        await ws.nothing("read")
    await database_sync_to_async(services.message_post)(room=room, author=bob, body="@alice new")
    async with open_socket("/ws/chat/", cookie=cookies["alice"]) as lobby:
        mine = {r["slug"]: r for r in (await lobby.next("rooms"))["rooms"]}[room.slug]
        assert (mine["unread"], mine["mentions"]) == (1, 1)


async def test_reading_past_a_mention_marks_its_notification_read_in_every_tab(
    room: Room, bob: Any, alice: Any, cookies: dict[str, str]
) -> None:
    """Read where it was made, a mention stops counting on the notifications badge of
    every page of the reader; a notification showing a mention not reached yet stays."""
    async with open_socket(path(room), cookie=cookies["bob"]) as ws:
        await ws.next("sync")  # a first visit: the cursor starts at the newest

    def mention(body: str) -> Message:
        return services.message_post(room=room, author=alice, body=body)

    first = await database_sync_to_async(mention)("@bob look")
    # Not folded into by the next ones (as if sent long ago).
    await database_sync_to_async(
        lambda: Notification.objects.filter(subject=mention_subject(first.pk)).update(
            fold_key="long ago"
        )
    )()
    second = await database_sync_to_async(mention)("@bob again")
    async with (
        open_socket("/ws/notifications/", cookie=cookies["bob"]) as tab1,
        open_socket("/ws/notifications/", cookie=cookies["bob"]) as tab2,
        open_socket(path(room), cookie=cookies["bob"]) as room_page,
    ):
        for tab in (tab1, tab2):
            assert (await tab.next("sync"))["unread"] == 2
        await room_page.next("sync")
        third = await database_sync_to_async(mention)("@bob third")  # folds into the second's
        for tab in (tab1, tab2):
            folded = (await tab.next("notification"))["notification"]
        ids = await database_sync_to_async(
            lambda: dict(Notification.objects.values_list("subject", "pk"))
        )()
        assert ids == {mention_subject(first.pk): ANY, mention_subject(third.pk): folded["id"]}
        await room_page.send({"type": "read", "id": first.pk})
        for tab in (tab1, tab2):
            read = await tab.next("read")
            assert (read["ids"], read["unread"]) == ([ids[mention_subject(first.pk)]], 1)
        # Past the second: its notification shows the third now, not read yet.
        await room_page.send({"type": "read", "id": second.pk})
        await room_page.next("read")
        await tab1.nothing("read", within=0.5)
        await room_page.send({"type": "read", "id": third.pk})
        for tab in (tab1, tab2):
            read = await tab.next("read")
            assert (read["ids"], read["unread"]) == ([folded["id"]], 0)


async def test_a_mute_disables_the_users_open_pages_live(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    async with open_socket(path(room), cookie=cookies["alice"]) as ws:
        assert (await ws.next("sync"))["muted"] is False
        await database_sync_to_async(services.user_mute)(room=room, user=alice)
        assert (await ws.next("muted"))["muted"] is True
        await database_sync_to_async(services.user_unmute)(room=room, user=alice)
        assert (await ws.next("muted"))["muted"] is False


async def test_a_mute_with_an_expiry_lapses_by_itself_on_the_page_and_the_server(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    """The page is told how long the mute lasts (live and in a sync) and enables the
    composer then; the server takes posts again from that moment, unasked."""
    until = timezone.now() + timedelta(seconds=2)
    async with open_socket(path(room), cookie=cookies["alice"]) as ws:
        await ws.next("sync")
        await database_sync_to_async(services.user_mute)(room=room, user=alice, expires_at=until)
        frame = await ws.next("muted")
        assert frame["muted"] is True
        assert 1000 < frame["expires_in"] <= 2000
        async with open_socket(path(room), cookie=cookies["alice"]) as later:
            sync = await later.next("sync")
            assert sync["muted"] is True
            assert 0 < sync["mute_expires_in"] <= frame["expires_in"]
        await ws.send({"type": "message.send", "body": "too soon", "ref": "m"})
        assert (await ws.next("error"))["code"] == "muted"
        await asyncio.sleep((until - timezone.now()).total_seconds() + 0.1)
        await ws.send({"type": "message.send", "body": "free again", "ref": "m2"})
        assert (await ws.next("message"))["message"]["body"] == "free again"
        await ws.send({"type": "typing", "ref": "t"})
        await ws.next("ack")
    async with open_socket(path(room), cookie=cookies["alice"]) as again:
        sync = await again.next("sync")
        assert (sync["muted"], sync["mute_expires_in"]) == (False, None)
    # Until lifted: no expiry to wait for.
    async with open_socket(path(room), cookie=cookies["alice"]) as ws:
        await ws.next("sync")
        await database_sync_to_async(services.user_mute)(room=room, user=alice)
        assert (await ws.next("muted"))["expires_in"] is None


async def test_sockets_connecting_together_share_one_history_read(
    room: Room, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A room's sockets arriving at once read its history once, while nothing changes in
    the room; a message posted since makes the next socket read again (and it shows)."""
    from chat import consumers

    reads = []
    real = consumers._history

    def counted(*args: Any) -> Any:
        reads.append(args)
        return real(*args)

    monkeypatch.setattr(consumers, "_history", counted)
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(open_socket(f"/ws/chat/{room.slug}/")) for _ in range(5)
        ]
        for ws in sockets:
            await ws.next("sync")
        assert len(reads) == 1
        await database_sync_to_async(services.message_post)(room=room, author=alice, body="new")
        await sockets[0].next("message")
        async with open_socket(f"/ws/chat/{room.slug}/") as late:
            sync = await late.next("sync")
        assert [m["body"] for m in sync["messages"]][-1:] == ["new"]
        assert len(reads) == 2


# ------------------------------------------------------------ the per-account write limit


@pytest.fixture
def account_budget_of_two() -> Iterator[None]:
    """A write budget of two posts per account, hardly refilled; the buckets go after
    the test (user ids come again in the next test's database)."""
    costs = {**settings.CHAT_WRITE_COSTS, "typing": 1.0}  # a fifth of a post by default
    with override_settings(
        CHAT_POST_BURST=2, CHAT_POST_RATE_PER_SECOND=0.01, CHAT_WRITE_COSTS=costs
    ):
        yield
    client = get_redis(timeout=5)
    for key in client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:rate:*"):
        client.delete(key)


# (frame for the i-th try, writes the budget of two allows, what readers get of each)
WRITES = {
    "edit": (
        lambda ids, i: {"type": "message.edit", "id": ids[0], "body": f"v{i}"},
        1,
        "message.updated",
    ),
    "delete": (lambda ids, i: {"type": "message.delete", "id": ids[i]}, 2, "message.deleted"),
    "reaction": (
        lambda ids, i: {"type": "reaction.toggle", "id": ids[0], "emoji": "👍"},
        2,
        "message.updated",
    ),
    "typing": (lambda ids, i: {"type": "typing"}, 2, "typing"),
}


@pytest.mark.parametrize("kind", WRITES)
async def test_every_write_that_reaches_others_is_limited_per_account(
    kind: str, room: Room, alice: Any, cookies: dict[str, str], account_budget_of_two: None
) -> None:
    """Edits, deletions, reactions and typing share the account's budget with posts,
    across the account's sockets (one socket each here, under its own frame limit), at
    their cost: an edit is two posts. A refusal is a clear error; the socket goes on."""
    frame_for, allowed, broadcast = WRITES[kind]
    ids = await posted(room, alice, 3)
    async with contextlib.AsyncExitStack() as stack:
        reader = await stack.enter_async_context(open_socket(path(room), cookie=cookies["bob"]))
        tabs = [
            await stack.enter_async_context(open_socket(path(room), cookie=cookies["alice"]))
            for _ in range(allowed + 1)
        ]
        for ws in [reader, *tabs]:
            await ws.next("sync")
        for i, ws in enumerate(tabs[:allowed]):
            await ws.send({**frame_for(ids, i), "ref": f"w{i}"})
            assert (await ws.next("ack"))["ref"] == f"w{i}"
            await reader.next(broadcast)
        over = tabs[allowed]
        await over.send({**frame_for(ids, allowed), "ref": "over"})
        error = await over.next("error")
        assert (error["code"], error["ref"]) == ("rate_limited", "over")
        assert re.fullmatch(
            r"You're \w+( \w+)? too fast\. Try again in \d+ seconds?\.", error["message"]
        )
        await over.usable()
        await reader.nothing(broadcast)
        # Posts come out of the same budget: it is spent.
        await over.send({"type": "message.send", "body": "and a post", "ref": "p"})
        assert (await over.next("error"))["code"] == "rate_limited"


# ------------------------------------------------------------ replies


async def test_a_reply_reaches_the_room_with_its_quote_and_bad_ones_are_refused(
    room: Room, make_room: Callable[..., Room], alice: Any, cookies: dict[str, str]
) -> None:
    other = await database_sync_to_async(make_room)()
    [elsewhere] = await posted(other, alice, 1)
    [original] = await posted(room, alice, 1)
    async with (
        open_socket(path(room), cookie=cookies["alice"]) as a,
        open_socket(path(room), cookie=cookies["bob"]) as b,
    ):
        await a.next("sync")
        await b.next("sync")
        frame = {"type": "message.send", "body": "agreed", "reply_to": original}
        await b.send({**frame, "ref": "r"})
        reply_id = (await b.next("ack"))["id"]
        reply = (await a.next("message"))["message"]
        assert reply["id"] == reply_id
        assert reply["reply"] == {
            "id": original,
            "seq": 1,
            "author": {"id": alice.pk, "username": "alice"},
            "text": "m0",
            "deleted": False,
        }
        await b.send({**frame, "reply_to": elsewhere, "ref": "x"})
        refused = await b.next("error")
        assert (refused["code"], refused["ref"]) == ("not_found", "x")
        await a.send({"type": "message.delete", "id": original})
        await b.next("message.deleted")
        await b.send({**frame, "ref": "y"})
        assert (await b.next("error"))["message"] == (
            "The message you are replying to is no longer here."
        )
        await a.nothing("message", within=0.3)


async def test_replies_show_their_originals_edit_and_deletion_on_sync_and_resume(
    room: Room, alice: Any, bob: Any, cookies: dict[str, str]
) -> None:
    """A page keeps a reply's quote current from the original's own changes: a resume
    carries the edited original and the deleted one's id; a first sync reads the quote as
    it is now."""
    first, second = await posted(room, alice, 2)  # seq 1, 2

    def replies() -> list[int]:
        return [
            services.message_post(room=room, author=bob, body="re", reply_to=pk).pk
            for pk in (first, second)
        ]  # seq 3, 4

    await database_sync_to_async(replies)()

    def while_away() -> None:
        services.message_edit(room=room, user=alice, message_id=first, body="first, edited\nmore")
        services.message_delete_own(room=room, user=alice, message_id=second)

    await database_sync_to_async(while_away)()
    async with open_socket(f"{path(room)}?after_id=4", cookie=cookies["bob"]) as ws:
        sync = await ws.next("sync")
        assert sync["mode"] == "resume"
        assert [(m["id"], m["body"], m["seq"]) for m in sync["messages"]] == [
            (first, "first, edited\nmore", 5)
        ]
        assert sync["deleted"] == [second]
    async with open_socket(path(room), cookie=cookies["bob"]) as ws:
        sync = await ws.next("sync")
        quotes = [m["reply"] for m in sync["messages"] if m["reply"] is not None]
        assert quotes == [
            {
                "id": first,
                "seq": 5,
                "author": {"id": alice.pk, "username": "alice"},
                "text": "first, edited",
                "deleted": False,
            },
            {"id": second, "seq": 6, "author": None, "text": "", "deleted": True},
        ]


def test_a_returning_readers_first_sync_reads_its_viewer_in_one_query(
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
    django_assert_num_queries: Any,
) -> None:
    reader, blocker, other = make_user(), make_user(), make_user()
    room = make_room()
    for user in (reader, blocker):
        ReadState.objects.create(room=room, user=user, last_read_id=0)
    Block.objects.create(blocker=blocker, blocked=other)
    # The connect path of every socket: cursor, mute, role and blocks in one query.
    with django_assert_num_queries(1):
        viewer = _viewer(room, reader)
    assert (viewer.role, viewer.blocked) == (None, [])
    # Whom someone blocked is read only for those who blocked anyone.
    with django_assert_num_queries(2):
        assert _viewer(room, blocker).blocked == [other.pk]
