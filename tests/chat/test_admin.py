"""Moderation in the admin reaches open sockets like any other change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chat import selectors, services
from chat.models import Membership, Message, Mute, Room
from tests.conftest import open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(make_user: Callable[..., Any]) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def room_with_messages(make_room: Callable[..., Room], make_user: Callable[..., Any]) -> Room:
    room = make_room(retention=0)
    author = make_user()
    for i in range(3):
        services.message_post(room=room, author=author, body=f"m{i}")
    return room


def ids_of(room: Room) -> list[int]:
    return list(
        Message.objects.filter(room=room, deleted_at__isnull=True).values_list("id", flat=True)
    )


async def test_admin_delete_one_removes_it_live(
    staff_client: Client, room_with_messages: Room
) -> None:
    ids = await database_sync_to_async(ids_of)(room_with_messages)
    async with open_socket(f"/ws/chat/{room_with_messages.slug}/") as ws:
        await ws.next("sync")
        url = reverse("admin:chat_message_delete", args=[ids[0]])
        reply = await database_sync_to_async(staff_client.post)(url, {"post": "yes"})
        assert reply.status_code == 302
        assert (await ws.next("message.deleted"))["ids"] == [ids[0]]
    assert await database_sync_to_async(ids_of)(room_with_messages) == ids[1:]


async def test_admin_bulk_delete_removes_them_live(
    staff_client: Client, room_with_messages: Room
) -> None:
    ids = await database_sync_to_async(ids_of)(room_with_messages)
    async with open_socket(f"/ws/chat/{room_with_messages.slug}/") as ws:
        await ws.next("sync")
        reply = await database_sync_to_async(staff_client.post)(
            reverse("admin:chat_message_changelist"),
            {"action": "delete_selected", "_selected_action": ids[:2], "post": "yes"},
        )
        assert reply.status_code == 302
        assert sorted((await ws.next("message.deleted"))["ids"]) == ids[:2]


def test_mute_action_and_mute_admin(
    staff_client: Client, room_with_messages: Room, make_user: Callable[..., Any]
) -> None:
    message = Message.objects.filter(room=room_with_messages).first()
    reply = staff_client.post(
        reverse("admin:chat_message_changelist"),
        {"action": "mute_authors", "_selected_action": [message.pk]},
    )
    assert reply.status_code == 302
    mute = Mute.objects.get(room=room_with_messages, user=message.author)
    assert mute.created_by is not None

    other = make_user()
    reply = staff_client.post(
        reverse("admin:chat_mute_add"),
        {"room": room_with_messages.pk, "user": other.pk, "reason": "flooding"},
    )
    assert reply.status_code == 302
    assert Mute.objects.get(room=room_with_messages, user=other).reason == "flooding"


async def test_every_way_staff_lift_a_mute_reaches_the_users_open_page(
    staff_client: Client, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    """The change form (an expiry moved into the past, or the mute moved to another
    user), delete, bulk delete and the room's inline: each tells the page at once."""
    room = await database_sync_to_async(make_room)()
    bob, carol = (
        await database_sync_to_async(make_user)(),
        await database_sync_to_async(make_user)(),
    )
    cookie = await database_sync_to_async(session_cookie)(bob)

    async def mute() -> Mute:
        return await database_sync_to_async(services.user_mute)(room=room, user=bob)

    async def post(url: str, data: dict[str, Any]) -> None:
        reply = await database_sync_to_async(staff_client.post)(url, data)
        assert reply.status_code == 302, reply.content.decode()[:2000]

    def change_form(mute: Mute, **fields: Any) -> dict[str, Any]:
        past = timezone.localtime() - timedelta(minutes=1)
        data = {
            "room": room.pk,
            "user": bob.pk,
            "reason": "",
            "expires_at_0": "",
            "expires_at_1": "",
        }
        if fields.pop("lapsed", False):
            data |= {
                "expires_at_0": past.date().isoformat(),
                "expires_at_1": past.strftime("%H:%M:%S"),
            }
        return data | fields

    async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as ws:
        assert (await ws.next("sync"))["muted"] is False
        lifts = {
            "expiry": lambda m: post(
                reverse("admin:chat_mute_change", args=[m.pk]), change_form(m, lapsed=True)
            ),
            "another user": lambda m: post(
                reverse("admin:chat_mute_change", args=[m.pk]), change_form(m, user=carol.pk)
            ),
            "delete": lambda m: post(
                reverse("admin:chat_mute_delete", args=[m.pk]), {"post": "yes"}
            ),
            "bulk delete": lambda m: post(
                reverse("admin:chat_mute_changelist"),
                {"action": "delete_selected", "_selected_action": [m.pk], "post": "yes"},
            ),
        }
        for way, lift in lifts.items():
            await database_sync_to_async(Mute.objects.all().delete)()
            muted = await mute()
            assert (await ws.next("muted"))["muted"] is True, way
            await lift(muted)
            frame = await ws.next("muted")
            assert (frame["muted"], frame["expires_in"]) == (False, None), way
            assert not await database_sync_to_async(
                lambda: selectors.user_is_muted(room=room, user=bob)
            )(), way


def test_changelists_search_and_filter(staff_client: Client, room_with_messages: Room) -> None:
    url = reverse("admin:chat_message_changelist")
    assert staff_client.get(url, {"q": "m1"}).status_code == 200
    assert staff_client.get(url, {"room__id__exact": room_with_messages.pk}).status_code == 200
    reply = staff_client.get(reverse("admin:chat_room_changelist"), {"q": room_with_messages.slug})
    assert reply.status_code == 200
    assert room_with_messages.title in reply.content.decode()
    change = reverse("admin:chat_room_change", args=[room_with_messages.pk])
    assert "retention" in staff_client.get(change).content.decode()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"slug": "OPS-ROOM"}, "in any case"),
        ({"description": "x" * 1001}, "at most 1000"),
        ({"retention": "100001"}, "less than or equal to 100000"),
    ],
)
def test_the_room_form_refuses_what_create_room_refuses(
    staff_client: Client, make_room: Callable[..., Room], fields: dict[str, str], error: str
) -> None:
    make_room(slug="ops-room")
    data = {"slug": "new-room", "title": "New", "description": "", "retention": "10"}
    for inline in ("memberships", "mutes"):
        data.update({f"{inline}-TOTAL_FORMS": "0", f"{inline}-INITIAL_FORMS": "0"})
    reply = staff_client.post(reverse("admin:chat_room_add"), {**data, **fields})
    assert reply.status_code == 200
    assert error in reply.content.decode()
    assert Room.objects.count() == 1


def test_staff_see_a_messages_earlier_versions_and_search_by_full_text(
    staff_client: Client, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = make_room()
    author = make_user("writer")
    message = services.message_post(room=room, author=author, body="first wording")
    services.message_edit(room=room, user=author, message_id=message.pk, body="second wording")
    page = staff_client.get(reverse("admin:chat_message_change", args=[message.pk]))
    text = page.content.decode()
    assert "first wording" in text  # the earlier version, for moderation
    assert "second wording" in text
    listing = staff_client.get(reverse("admin:chat_message_changelist"), {"q": "wordi"})
    assert f">{message.pk}<" in listing.content.decode()
    by_author = staff_client.get(reverse("admin:chat_message_changelist"), {"q": "writer"})
    assert f">{message.pk}<" in by_author.content.decode()
    services.message_delete(messages=[message])
    deleted = staff_client.get(reverse("admin:chat_message_changelist"), {"state": "deleted"})
    assert "(deleted)" in deleted.content.decode()


def test_lowering_retention_in_the_admin_applies_it(
    staff_client: Client, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = make_room()
    author = make_user()
    for i in range(5):
        services.message_post(room=room, author=author, body=f"m{i}")
    data = {
        "slug": room.slug,
        "title": room.title,
        "description": "",
        "retention": "2",
        "retention_days": "0",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "mutes-TOTAL_FORMS": "0",
        "mutes-INITIAL_FORMS": "0",
    }
    reply = staff_client.post(reverse("admin:chat_room_change", args=[room.pk]), data)
    assert reply.status_code == 302
    assert Message.objects.filter(room=room).count() == 2


def test_staff_see_what_a_reply_answers_even_once_it_is_pruned(
    staff_client: Client, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = make_room()
    author = make_user("writer")
    original = services.message_post(room=room, author=author, body="the question")
    reply = services.message_post(room=room, author=author, body="an answer", reply_to=original.pk)
    page = staff_client.get(reverse("admin:chat_message_change", args=[reply.pk]))
    assert "the question" in page.content.decode()  # the original, as the admin names it
    Message.objects.filter(pk=original.pk).delete()  # pruned: the reply keeps its id
    page = staff_client.get(reverse("admin:chat_message_change", args=[reply.pk]))
    assert page.status_code == 200


async def test_members_added_and_removed_in_the_admin_reach_their_pages(
    make_room: Callable[..., Room], make_user: Callable[..., Any], login_cookie: Callable[..., str]
) -> None:
    def setup() -> tuple[Room, Any, Client]:
        staff = Client()
        staff.force_login(make_user(is_staff=True, is_superuser=True))
        return make_room(private=True), make_user("guest"), staff

    room, guest, staff = await database_sync_to_async(setup)()

    def post(**memberships: str) -> int:
        data = {
            "slug": room.slug,
            "title": room.title,
            "description": "",
            "private": "on",
            "retention": "0",
            "retention_days": "0",
            "mutes-TOTAL_FORMS": "0",
            "mutes-INITIAL_FORMS": "0",
            **memberships,
        }
        url = reverse("admin:chat_room_change", args=[room.pk])
        return staff.post(url, data).status_code

    cookie = await database_sync_to_async(login_cookie)(guest)
    async with open_socket("/ws/chat/", cookie=cookie) as rooms:
        await rooms.next("rooms")
        status = await database_sync_to_async(post)(
            **{
                "memberships-TOTAL_FORMS": "1",
                "memberships-INITIAL_FORMS": "0",
                "memberships-0-user": str(guest.pk),
                "memberships-0-role": "member",
            }
        )
        assert status == 302
        assert (await rooms.next("room.added"))["room"]["slug"] == room.slug
        membership = await database_sync_to_async(Membership.objects.get)(room=room)
        async with open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as page:
            await page.next("sync")
            status = await database_sync_to_async(post)(
                **{
                    "memberships-TOTAL_FORMS": "1",
                    "memberships-INITIAL_FORMS": "1",
                    "memberships-0-id": str(membership.pk),
                    "memberships-0-room": str(room.pk),
                    "memberships-0-user": str(guest.pk),
                    "memberships-0-role": "member",
                    "memberships-0-DELETE": "on",
                }
            )
            assert status == 302
            await page.next("removed")
        assert (await rooms.next("room.removed"))["slug"] == room.slug
