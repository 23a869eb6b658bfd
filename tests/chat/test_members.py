"""Private rooms and membership over the real Redis channel layer: who sees a private
room, live invitations and removals, roles, joining and leaving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.test import Client

from chat import selectors, services
from chat.models import Membership, ReadState, Role, Room
from notifications.models import Recipient
from tests.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:
    return {name: make_user(name) for name in ("owner", "alice", "bob", "eve")}


@pytest.fixture
def cookies(login_cookie: Callable[[Any], str], people: dict[str, Any]) -> dict[str, str]:
    return {name: login_cookie(user) for name, user in people.items()}


@pytest.fixture
def secret(make_room: Callable[..., Room], people: dict[str, Any]) -> Room:
    room = make_room(private=True, title="Secret plans")
    services.member_add(room=room, user=people["owner"], role=Role.OWNER)
    services.member_add(room=room, user=people["alice"])
    return room


def path(room: Room) -> str:
    return f"/ws/chat/{room.slug}/"


async def closed_with(ws: Any, timeout: float = 5.0) -> int:
    """Read frames until the server closes the socket; its close code."""
    try:
        while True:
            await ws.next("never-sent", timeout=timeout)
    except AssertionError as closed:
        text = str(closed)
        assert "socket closed with" in text, text
        return int(text.rsplit(" ", 1)[1])


async def test_a_private_room_refuses_outsiders_as_if_it_did_not_exist(
    secret: Room, cookies: dict[str, str]
) -> None:
    for cookie in (cookies["eve"], None):  # a user who is not a member, a visitor
        async with open_socket(path(secret), cookie=cookie) as ws:
            assert await closed_with(ws) == 4404  # as an unknown room does
    async with open_socket(path(secret), cookie=cookies["alice"]) as ws:
        sync = await ws.next("sync")
        assert sync["room"]["private"] is True
        assert (sync["role"], sync["manages"]) == ("member", False)


def test_private_pages_search_and_lists_answer_only_members(
    secret: Room, people: dict[str, Any]
) -> None:
    services.message_post(room=secret, author=people["alice"], body="launch codes here")
    for name, visible in (("alice", True), ("eve", False), (None, False)):
        client = Client()
        if name:
            client.force_login(people[name])
        assert client.get(f"/chat/{secret.slug}/").status_code == (200 if visible else 404)
        search = client.get("/chat/search/", {"q": "launch"})
        assert ("launch codes" in search.content.decode()) is visible
        in_room = client.get("/chat/search/", {"q": "launch", "room": secret.slug})
        assert in_room.status_code == (200 if visible else 404)
        listing = client.get("/chat/").content.decode()
        assert ("Secret plans" in listing) is visible


def test_a_mention_in_a_private_room_notifies_members_only(
    secret: Room, people: dict[str, Any]
) -> None:
    services.message_post(room=secret, author=people["alice"], body="@eve @owner look")
    told = set(Recipient.objects.values_list("user__username", flat=True))
    assert told == {"owner"}


async def test_an_invitation_reaches_the_invited_users_room_list_live(
    secret: Room, people: dict[str, Any], cookies: dict[str, str]
) -> None:
    async with (
        open_socket("/ws/chat/", cookie=cookies["bob"]) as bobs_list,
        open_socket(path(secret), cookie=cookies["owner"]) as owners_page,
    ):
        rooms = await bobs_list.next("rooms")
        assert secret.slug not in [room["slug"] for room in rooms["rooms"]]
        await owners_page.next("sync")
        await owners_page.send({"type": "member.invite", "username": "bob", "ref": "i"})
        assert (await owners_page.next("ack"))["ref"] == "i"
        added = await bobs_list.next("room.added")
        assert added["room"]["slug"] == secret.slug
        assert added["room"]["private"] is True
        member = await owners_page.next("member")
        assert (member["user"]["username"], member["role"]) == ("bob", "member")
        # The room's activity now reaches bob's list, and only members' lists.
        await database_sync_to_async(services.message_post)(
            room=secret, author=people["alice"], body="welcome bob"
        )
        activity = await bobs_list.next("room.activity")
        assert activity["slug"] == secret.slug


async def test_a_removed_member_is_closed_out_everywhere(
    secret: Room, people: dict[str, Any], cookies: dict[str, str]
) -> None:
    await database_sync_to_async(services.message_post)(
        room=secret, author=people["owner"], body="@alice please read"
    )
    async with (
        open_socket(path(secret), cookie=cookies["alice"]) as alices_page,
        open_socket("/ws/chat/", cookie=cookies["alice"]) as alices_list,
        open_socket(path(secret), cookie=cookies["owner"]) as owners_page,
    ):
        await alices_page.next("sync")
        await alices_list.next("rooms")
        await owners_page.next("sync")
        await owners_page.send({"type": "member.remove", "username": "alice", "ref": "r"})
        await owners_page.next("ack")
        removed = await alices_page.next("removed")
        assert removed["message"] == "You are no longer a member of this room."
        assert await closed_with(alices_page) == 4410
        gone = await alices_list.next("room.removed")
        assert (gone["slug"], gone["private"]) == (secret.slug, True)
        assert (await owners_page.next("member"))["role"] is None
    # An ex-member: refused like anyone else, no cursor, no notification of its mention.
    async with open_socket(path(secret), cookie=cookies["alice"]) as ws:
        assert await closed_with(ws) == 4404
    assert not await database_sync_to_async(
        ReadState.objects.filter(room=secret, user=people["alice"]).exists
    )()
    assert not await database_sync_to_async(Recipient.objects.filter(user=people["alice"]).exists)()


async def test_members_may_not_manage_and_moderators_only_members(
    secret: Room, people: dict[str, Any], cookies: dict[str, str]
) -> None:
    async with open_socket(path(secret), cookie=cookies["alice"]) as ws:
        await ws.next("sync")
        await ws.send({"type": "member.invite", "username": "bob", "ref": "1"})
        error = await ws.next("error")
        assert error["message"] == "Only the room's owners and moderators can invite people."
        await ws.send({"type": "member.remove", "username": "owner", "ref": "2"})
        assert (await ws.next("error"))["message"] == "A room keeps at least one owner."
        await ws.send({"type": "room.edit", "topic": "mine now", "description": "", "ref": "3"})
        assert "owners and moderators" in (await ws.next("error"))["message"]
        await ws.usable()
    await database_sync_to_async(services.member_add)(
        room=secret, user=people["bob"], role=Role.MODERATOR
    )
    async with open_socket(path(secret), cookie=cookies["bob"]) as ws:
        sync = await ws.next("sync")
        assert sync["manages"] is True
        await ws.send({"type": "member.invite", "username": "eve", "role": "owner", "ref": "4"})
        assert "Only the room's owners can make" in (await ws.next("error"))["message"]
        await ws.send({"type": "member.invite", "username": "eve", "ref": "5"})
        await ws.next("ack")
        await ws.send({"type": "room.edit", "topic": "Q3 launch", "description": "", "ref": "6"})
        await ws.next("ack")
        updated = await ws.next("room.updated")
        assert updated["room"]["topic"] == "Q3 launch"


async def test_moderators_delete_others_messages_and_members_do_not(
    secret: Room, people: dict[str, Any], cookies: dict[str, str]
) -> None:
    message = await database_sync_to_async(services.message_post)(
        room=secret, author=people["alice"], body="spam"
    )
    await database_sync_to_async(services.member_add)(room=secret, user=people["bob"])
    async with open_socket(path(secret), cookie=cookies["bob"]) as ws:
        await ws.next("sync")
        await ws.send({"type": "message.delete", "id": message.pk, "ref": "d"})
        assert (await ws.next("error"))["ref"] == "d"
    async with open_socket(path(secret), cookie=cookies["owner"]) as ws:
        await ws.next("sync")
        await ws.send({"type": "message.delete", "id": message.pk, "ref": "d"})
        await ws.next("ack")
        assert (await ws.next("message.deleted"))["ids"] == [message.pk]


async def test_a_role_given_live_lets_the_socket_manage_without_reconnecting(
    secret: Room, people: dict[str, Any], cookies: dict[str, str]
) -> None:
    async with open_socket(path(secret), cookie=cookies["alice"]) as ws:
        assert (await ws.next("sync"))["manages"] is False
        await database_sync_to_async(services.member_set_role)(
            room=secret, by=people["owner"], username="alice", role=Role.MODERATOR
        )
        assert (await ws.next("member"))["role"] == "moderator"
        await ws.send({"type": "member.invite", "username": "bob", "ref": "i"})
        assert (await ws.next("ack"))["ref"] == "i"


async def test_leaving_a_public_room_stops_its_counts_and_a_private_one_closes_it(
    make_room: Callable[..., Room], secret: Room, people: dict[str, Any], cookies: dict[str, str]
) -> None:
    lobby = await database_sync_to_async(make_room)()
    async with open_socket("/ws/chat/", cookie=cookies["alice"]) as ws:
        await ws.next("rooms")
        await ws.send({"type": "room.join", "slug": lobby.slug, "ref": "j"})
        await ws.next("ack")
        await ws.send({"type": "room.leave", "slug": lobby.slug, "ref": "l"})
        await ws.next("ack")
        left = await ws.next("room.removed")
        assert (left["slug"], left["private"]) == (lobby.slug, False)
        await ws.send({"type": "room.leave", "slug": secret.slug, "ref": "p"})
        await ws.next("ack")
        assert (await ws.next("room.removed"))["slug"] == secret.slug
    assert not await database_sync_to_async(
        Membership.objects.filter(room=secret, user=people["alice"]).exists
    )()
    async with open_socket(path(secret), cookie=cookies["owner"]) as ws:
        await ws.next("sync")
        await ws.send({"type": "room.leave", "slug": secret.slug, "ref": "o"})
        error = await ws.next("error")
        assert (
            error["message"] == "You are this room's only owner. Make someone else an owner first."
        )


async def test_a_groups_members_are_members_and_leaving_the_group_closes_the_room(
    make_room: Callable[..., Room], people: dict[str, Any], cookies: dict[str, str]
) -> None:
    def setup() -> tuple[Room, Group]:
        team = Group.objects.create(name="team")
        people["bob"].groups.add(team)
        return make_room(private=True, group=team), team

    room, team = await database_sync_to_async(setup)()
    async with (
        open_socket(path(room), cookie=cookies["bob"]) as bobs_page,
        open_socket("/ws/chat/", cookie=cookies["eve"]) as eves_list,
    ):
        assert (await bobs_page.next("sync"))["role"] == "member"
        await eves_list.next("rooms")
        await database_sync_to_async(people["eve"].groups.add)(team)
        assert (await eves_list.next("room.added"))["room"]["slug"] == room.slug
        await database_sync_to_async(people["bob"].groups.remove)(team)
        await bobs_page.next("removed")
        assert await closed_with(bobs_page) == 4410


async def test_making_a_room_private_closes_the_pages_of_non_members(
    make_room: Callable[..., Room], people: dict[str, Any], cookies: dict[str, str]
) -> None:
    room = await database_sync_to_async(make_room)()
    await database_sync_to_async(services.member_add)(room=room, user=people["alice"])
    async with (
        open_socket(path(room), cookie=cookies["alice"]) as alices,
        open_socket(path(room), cookie=cookies["eve"]) as eves,
        open_socket(path(room)) as visitors,
    ):
        for ws in (alices, eves, visitors):
            await ws.next("sync")

        def make_private() -> None:
            before = selectors.room_member_ids(room=room)
            Room.objects.filter(pk=room.pk).update(private=True)
            room.private = True
            services.room_access_changed(room=room, before=before, was_private=False)

        await database_sync_to_async(make_private)()
        assert await closed_with(eves) == 4410
        assert await closed_with(visitors) == 4410
        await alices.usable()


async def test_owners_and_moderators_mute_members_live_and_moderators_not_each_other(
    secret: Room, people: dict[str, Any], cookies: dict[str, str]
) -> None:
    await database_sync_to_async(services.member_add)(
        room=secret, user=people["bob"], role=Role.MODERATOR
    )
    async with (
        open_socket(path(secret), cookie=cookies["alice"]) as alices,
        open_socket(path(secret), cookie=cookies["bob"]) as bobs,
    ):
        assert (await alices.next("sync"))["muted"] is False
        await bobs.next("sync")
        await alices.send({"type": "member.mute", "username": "bob", "muted": True, "ref": "m"})
        error = await alices.next("error")
        assert error["message"] == "Only the room's owners and moderators can mute people."
        await bobs.send({"type": "member.mute", "username": "owner", "muted": True, "ref": "o"})
        assert "Only the room's owners can mute" in (await bobs.next("error"))["message"]
        await bobs.send(
            {"type": "member.mute", "username": "alice", "muted": True, "minutes": 60, "ref": "a"}
        )
        await bobs.next("ack")
        muted = await alices.next("muted")
        assert muted["muted"] is True
        assert 0 < muted["expires_in"] <= 3_600_000
        await alices.send({"type": "message.send", "body": "can I?", "ref": "s"})
        assert (await alices.next("error"))["message"] == "You are muted in this room."
        await bobs.send({"type": "member.mute", "username": "alice", "muted": False, "ref": "u"})
        await bobs.next("ack")
        assert (await alices.next("muted"))["muted"] is False
