"""Direct conversations and blocking over the real Redis channel layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client, override_settings

from chat import selectors, services
from chat.models import Block, Kind, Room
from notifications.models import Recipient
from tests.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:
    return {name: make_user(name) for name in ("alice", "bob", "carol", "dave")}


@pytest.fixture
def cookies(login_cookie: Callable[[Any], str], people: dict[str, Any]) -> dict[str, str]:
    return {name: login_cookie(user) for name, user in people.items()}


async def test_a_direct_conversation_opens_once_and_appears_live_for_the_other(
    people: dict[str, Any], cookies: dict[str, str]
) -> None:
    async with (
        open_socket("/ws/chat/", cookie=cookies["alice"]) as alices,
        open_socket("/ws/chat/", cookie=cookies["bob"]) as bobs,
    ):
        await alices.next("rooms")
        await bobs.next("rooms")
        await alices.send({"type": "direct.open", "usernames": "bob", "ref": "d"})
        direct = await alices.next("direct")
        assert direct["url"] == f"/chat/{direct['slug']}/"
        added = await bobs.next("room.added")
        assert (added["room"]["kind"], added["room"]["title"]) == ("direct", "alice")
        # Again, from either side: the same conversation.
        await bobs.send({"type": "direct.open", "usernames": "@alice", "ref": "e"})
        assert (await bobs.next("direct"))["slug"] == direct["slug"]
        room = await database_sync_to_async(Room.objects.get)(slug=direct["slug"])
        assert (room.kind, room.private) == (Kind.DIRECT, True)
        # It is a room in every other way: posts, counts, resume.
        await database_sync_to_async(services.message_post)(
            room=room, author=people["alice"], body="hi bob"
        )
        assert (await bobs.next("room.activity"))["slug"] == room.slug
    # Nobody else sees it; it is not among the rooms.
    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookies["carol"]) as carols:
        with pytest.raises(AssertionError, match="closed with 4404"):
            await carols.next("sync")
    listed = await database_sync_to_async(lambda: list(selectors.room_list(user=people["bob"])))()
    assert room not in listed


def test_a_group_conversation_is_capped_and_titled_by_the_others(
    people: dict[str, Any],
) -> None:
    room = services.direct_open(user=people["alice"], usernames=["bob", "carol"])
    assert selectors.direct_title(room, people["bob"]) == "alice, carol"
    again = services.direct_open(user=people["carol"], usernames=["alice", "bob"])
    assert again.pk == room.pk
    with override_settings(CHAT_DIRECT_MAX_PEOPLE=3), pytest.raises(Exception, match="at most 3"):
        services.direct_open(user=people["alice"], usernames=["bob", "carol", "dave"])
    with pytest.raises(Exception, match="no one called nobody"):
        services.direct_open(user=people["alice"], usernames=["nobody"])
    with pytest.raises(Exception, match="cannot be added"):
        services.member_invite(room=room, by=people["alice"], username="dave")
    with pytest.raises(Exception, match="cannot be left"):
        services.room_leave(room=room, user=people["bob"])
    page = Client()
    page.force_login(people["bob"])
    text = page.get(f"/chat/{room.slug}/").content.decode()
    assert "<title>alice, carol" in text
    assert "alice, carol" in page.get("/chat/").content.decode()


async def test_blocking_stops_direct_messages_and_mentions_and_is_live_in_every_tab(
    people: dict[str, Any], cookies: dict[str, str], make_room: Callable[..., Room]
) -> None:
    shared = await database_sync_to_async(make_room)()
    direct = await database_sync_to_async(services.direct_open)(
        user=people["alice"], usernames=["bob"]
    )
    async with (
        open_socket(f"/ws/chat/{shared.slug}/", cookie=cookies["bob"]) as bobs_room,
        open_socket("/ws/chat/", cookie=cookies["bob"]) as bobs_list,
        open_socket(f"/ws/chat/{direct.slug}/", cookie=cookies["alice"]) as alices_direct,
    ):
        assert (await bobs_room.next("sync"))["blocked"] == []
        await bobs_list.next("rooms")
        await alices_direct.next("sync")
        await bobs_list.send(
            {"type": "user.block", "username": "alice", "blocked": True, "ref": "b"}
        )
        await bobs_list.next("ack")
        for page in (bobs_room, bobs_list):
            assert (await page.next("blocks"))["ids"] == [people["alice"].pk]
        # alice can no longer write to him, nor start another conversation with him.
        await alices_direct.send({"type": "message.send", "body": "hello?", "ref": "m"})
        error = await alices_direct.next("error")
        assert error["message"] == (
            "Your message could not be delivered: someone here is not accepting your messages."
        )
        await alices_direct.send({"type": "direct.open", "usernames": "bob", "ref": "o"})
        assert "cannot start" in (await alices_direct.next("error"))["message"]
        await alices_direct.usable()
    # Her mentions of him in a shared room tell him nothing; carol's still do.
    await database_sync_to_async(services.message_post)(
        room=shared, author=people["alice"], body="@bob look"
    )
    await database_sync_to_async(services.message_post)(
        room=shared, author=people["carol"], body="@bob look too"
    )
    told = await database_sync_to_async(
        lambda: list(
            Recipient.objects.filter(user=people["bob"]).values_list(
                "notification__created_by__username", flat=True
            )
        )
    )()
    assert told == ["carol"]
    # Unblocked: he may write to her again; a block he made himself stops him too.
    await database_sync_to_async(services.user_block)(
        user=people["bob"], username="alice", blocked=False
    )
    assert not await database_sync_to_async(Block.objects.exists)()
    await database_sync_to_async(services.message_post)(
        room=direct, author=people["alice"], body="hello again"
    )
    await database_sync_to_async(services.user_block)(
        user=people["alice"], username="dave", blocked=True
    )
    with pytest.raises(Exception, match="You blocked dave"):
        await database_sync_to_async(services.direct_open)(user=people["alice"], usernames=["dave"])
