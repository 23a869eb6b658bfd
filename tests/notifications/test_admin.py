"""Staff send notifications in the admin: saving delivers live; the admin shows who read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from notifications import services
from notifications.models import Audience, Notification
from tests.conftest import open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/notifications/"
ADD = reverse("admin:notifications_notification_add")


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Any:
    return make_user("staffer", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(staff: Any) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def form(**fields: Any) -> dict[str, Any]:
    return {"title": "t", "body": "", "level": "info", "link": "", **fields}


async def post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return await database_sync_to_async(client.post)(url, data)


async def test_saving_for_chosen_users_delivers_live_to_them_only(
    staff_client: Client, make_user: Callable[..., Any]
) -> None:
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    cookies = [await database_sync_to_async(session_cookie)(u) for u in (alice, bob)]
    async with open_socket(PATH, cookie=cookies[0]) as a, open_socket(PATH, cookie=cookies[1]) as b:
        await a.next("sync")
        await b.next("sync")
        reply = await post(
            staff_client,
            ADD,
            form(title="Maintenance at 6", level="warning", audience="users", users=[alice.pk]),
        )
        assert reply.status_code == 302, reply.content
        frame = (await a.next("notification"))["notification"]
        assert (frame["title"], frame["level"]) == ("Maintenance at 6", "warning")
        await b.nothing("notification")
    sent = await database_sync_to_async(Notification.objects.select_related("created_by").get)()
    assert (sent.audience, sent.recipients_count, sent.created_by.username) == (
        Audience.USERS,
        1,
        "staffer",
    )


async def test_saving_for_a_group_and_for_everyone(
    staff_client: Client, make_user: Callable[..., Any]
) -> None:
    member = await database_sync_to_async(make_user)()

    def make_group() -> Group:
        group = Group.objects.create(name="moderators")
        group.user_set.add(member)
        return group

    group = await database_sync_to_async(make_group)()
    cookie = await database_sync_to_async(session_cookie)(member)
    async with open_socket(PATH, cookie=cookie) as ws, open_socket(PATH) as visitor:
        await ws.next("sync")
        await visitor.next("sync")
        await post(staff_client, ADD, form(title="mods", audience="group", group=group.pk))
        assert (await ws.next("notification"))["notification"]["title"] == "mods"
        await visitor.nothing("notification")
        await post(staff_client, ADD, form(title="all users", audience="all_users"))
        assert (await ws.next("notification"))["notification"]["title"] == "all users"
        await visitor.nothing("notification")
        await post(staff_client, ADD, form(title="everyone", audience="everyone"))
        for socket in (ws, visitor):
            assert (await socket.next("notification"))["notification"]["title"] == "everyone"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"audience": "users"}, "Choose at least one user."),
        ({"audience": "group"}, "Choose a group."),
        ({"audience": "everyone", "link": "javascript:alert(1)"}, "must be a page on this site"),
        ({"audience": "everyone", "link": "//evil.example/"}, "must be a page on this site"),
        ({"audience": "everyone", "link": "general"}, "must be a page on this site"),
        ({"audience": "everyone", "link": "?x=1"}, "must be a page on this site"),
        ({"audience": "everyone", "link": "#m1"}, "must be a page on this site"),
        ({"audience": "everyone", "link": "/" + "x" * 600}, "at most 500"),
        ({"audience": "everyone", "title": "   "}, "This field is required"),
        ({"audience": "everyone", "level": "panic"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_sent(
    staff_client: Client, fields: dict[str, Any], error: str
) -> None:
    reply = staff_client.post(ADD, form(**fields))
    assert reply.status_code == 200
    assert error in reply.content.decode()
    assert not Notification.objects.exists()


def test_admin_shows_recipients_read_counts_and_who_read(
    staff_client: Client, make_user: Callable[..., Any]
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    sent = services.notification_send(title="hello <team>", users=[alice, bob])
    services.notification_mark_read(user=alice, notification_id=sent.pk)
    changelist = staff_client.get(reverse("admin:notifications_notification_changelist"))
    row = changelist.content.decode()
    assert "hello &lt;team&gt;" in row
    assert "hello <team>" not in row
    assert '<td class="field-recipients_count">2</td>' in row
    assert '<td class="field-read_count">1</td>' in row
    page = staff_client.get(
        reverse("admin:notifications_notification_change", args=[sent.pk])
    ).content.decode()
    assert "recipients and their read state" in page.lower()
    # One row per recipient: alice read it (True icon), bob has not (False icon).
    alice_row = page[page.index(">alice<") :][:400]
    bob_row = page[page.index(">bob<") :][:400]
    assert "icon-yes" in alice_row
    assert "icon-no" in bob_row

    broadcast = services.notification_send(title="to all", to_all_users=True)
    services.notification_mark_read(user=bob, notification_id=broadcast.pk)
    page = staff_client.get(
        reverse("admin:notifications_notification_change", args=[broadcast.pk])
    ).content.decode()
    assert "read by" in page.lower()
    assert ">bob<" in page
    assert ">alice<" not in page


async def test_send_again_redelivers(staff_client: Client, make_user: Callable[..., Any]) -> None:
    alice = await database_sync_to_async(make_user)()
    sent = await database_sync_to_async(services.notification_send)(title="again", users=[alice])
    cookie = await database_sync_to_async(session_cookie)(alice)
    async with open_socket(PATH, cookie=cookie) as ws:
        assert [n["id"] for n in (await ws.next("sync"))["notifications"]] == [sent.pk]
        reply = await post(
            staff_client,
            reverse("admin:notifications_notification_changelist"),
            {"action": "send_again", "_selected_action": [sent.pk]},
        )
        assert reply.status_code == 302
        frame = await ws.next("notification")
        assert (frame["notification"]["id"], frame["again"]) == (sent.pk, True)
    assert await database_sync_to_async(Notification.objects.count)() == 1


def test_a_sent_notification_offers_no_save_and_a_post_changes_nothing(
    staff_client: Client, make_user: Callable[..., Any]
) -> None:
    sent = services.notification_send(title="sent", users=[make_user()])
    change = reverse("admin:notifications_notification_change", args=[sent.pk])
    page = staff_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    reply = staff_client.post(change, {"title": "edited", "_save": "Save"})
    assert reply.status_code == 403  # refused, not a 500
    sent.refresh_from_db()
    assert sent.title == "sent"
    # The list and its "send again" stay.
    assert (
        staff_client.get(reverse("admin:notifications_notification_changelist")).status_code == 200
    )
