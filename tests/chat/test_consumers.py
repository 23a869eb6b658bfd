"""The chat sockets over the real Redis channel layer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from chat import services
from chat.models import Message, Room
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


async def test_resume_sends_everything_after_the_cursor(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 5)
    async with open_socket(f"{path(room)}?after_id={ids[1]}", cookie=cookies["alice"]) as ws:
        sync = await ws.next("sync")
        assert sync["mode"] == "resume"
        assert [m["id"] for m in sync["messages"]] == ids[2:]


async def test_resume_too_far_behind_resets(
    room: Room, alice: Any, cookies: dict[str, str]
) -> None:
    ids = await posted(room, alice, 6)
    with override_settings(CHAT_RESUME_LIMIT=2, CHAT_HISTORY_PAGE_SIZE=3):
        async with open_socket(f"{path(room)}?after_id={ids[0]}", cookie=cookies["alice"]) as ws:
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
        assert "2000" in error["message"]
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
