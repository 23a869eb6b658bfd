"""``@username`` in a chat message notifies that user, with a link to the message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Room
from chat.selectors import mentioned_users
from notifications import selectors as inbox
from notifications.models import Notification
from tests.conftest import open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:
    return {name: make_user(name) for name in ("alice", "bob", "carol", "d.e-f")}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("hi @bob", ["bob"]),
        ("@bob and @carol, look", ["bob", "carol"]),
        ("@bob. @bob! @bob", ["bob"]),
        ("mail bob@carol or x@bob.org", []),
        ("@alice talks to herself", []),
        ("@nobody here", []),
        ("ping @d.e-f.", ["d.e-f"]),
    ],
)
def test_who_is_mentioned(people: dict[str, Any], body: str, named: list[str]) -> None:
    found = mentioned_users(body=body, author=people["alice"])
    assert sorted(u.username for u in found) == named


def test_a_mention_notifies_with_a_link_to_the_message(
    people: dict[str, Any], make_room: Callable[..., Room]
) -> None:
    room = make_room(title="General")
    message = services.message_post(room=room, author=people["alice"], body="@bob see this")
    note = Notification.objects.get()
    assert note.title == "alice mentioned you in General"
    assert note.body == "@bob see this"
    assert note.link == f"/chat/{room.slug}/#m{message.pk}"
    assert inbox.unread_count(user=people["bob"]) == 1
    assert inbox.unread_count(user=people["carol"]) == 0


def test_a_refused_post_notifies_nobody(
    people: dict[str, Any], make_room: Callable[..., Room]
) -> None:
    room = make_room()
    services.user_mute(room=room, user=people["alice"])
    with pytest.raises(Exception, match="muted"):
        services.message_post(room=room, author=people["alice"], body="@bob hi")
    assert not Notification.objects.exists()


async def test_the_mentioned_user_gets_it_live(
    people: dict[str, Any], make_room: Callable[..., Room]
) -> None:
    room = await database_sync_to_async(make_room)()
    cookie = await database_sync_to_async(session_cookie)(people["bob"])
    async with open_socket("/ws/notifications/", cookie=cookie) as ws:
        await ws.next("sync")
        await database_sync_to_async(services.message_post)(
            room=room, author=people["alice"], body="over to you @bob"
        )
        frame = (await ws.next("notification"))["notification"]
        assert frame["title"].startswith("alice mentioned you")
        assert frame["link"].startswith(f"/chat/{room.slug}/#m")


def test_mentions_fold_per_room(people: dict[str, Any], make_room: Callable[..., Room]) -> None:
    """Each folded notification names the room its mentions were in."""
    general, random = make_room(title="General"), make_room(title="Random")
    for room in (general, random, general, random, general, random):
        services.message_post(room=room, author=people["alice"], body="@bob again")
    titles = sorted(Notification.objects.values_list("title", flat=True))
    assert titles == [
        "alice mentioned you 3 times in General",
        "alice mentioned you 3 times in Random",
    ]


async def test_a_mention_follows_its_message_when_edited_or_deleted(
    people: dict[str, Any], make_room: Callable[..., Room]
) -> None:
    """The text an author took back does not stay in the inbox: an edit shows the new
    text, a deletion says the message was deleted. Open inboxes change at once, quietly,
    and a later sync shows the same."""
    room = await database_sync_to_async(make_room)(title="General")
    alice = people["alice"]
    cookie = await database_sync_to_async(session_cookie)(people["bob"])
    message = await database_sync_to_async(services.message_post)(
        room=room, author=alice, body="@bob the code is 1234"
    )
    async with open_socket("/ws/notifications/", cookie=cookie) as ws:
        sync = await ws.next("sync")
        [shown] = sync["notifications"]
        assert shown["body"] == "@bob the code is 1234"
        await database_sync_to_async(services.message_edit)(
            room=room, user=alice, message_id=message.pk, body="@bob ask me for the code"
        )
        frame = await ws.next("notification")
        assert (frame["update"], frame["quiet"]) == (True, True)
        assert frame["notification"]["id"] == shown["id"]
        assert frame["notification"]["body"] == "@bob ask me for the code"
        assert frame["notification"]["read"] is False
        await ws.send({"type": "mark_read", "id": shown["id"], "ref": "r"})
        await ws.next("ack")
        await database_sync_to_async(services.message_delete_own)(
            room=room, user=alice, message_id=message.pk
        )
        frame = await ws.next("notification")
        assert frame["notification"]["body"] == services.MENTION_DELETED
        assert frame["notification"]["read"] is True  # read stays read
    async with open_socket("/ws/notifications/", cookie=cookie) as ws:
        [shown] = (await ws.next("sync"))["notifications"]
        assert shown["body"] == services.MENTION_DELETED
    stored = await database_sync_to_async(lambda: list(Notification.objects.all()))()
    assert not any("1234" in n.body or "ask me" in n.body for n in stored)


def test_a_mention_shows_the_latest_message_folded_in(
    people: dict[str, Any], make_room: Callable[..., Room]
) -> None:
    """A folded notification follows the message it shows (the latest): deleting an
    earlier one, whose text it no longer shows, changes nothing."""
    room = make_room()
    first = services.message_post(room=room, author=people["alice"], body="@bob one")
    services.message_post(room=room, author=people["alice"], body="@bob two")
    services.message_delete_own(room=room, user=people["alice"], message_id=first.pk)
    assert Notification.objects.get().body == "@bob two"
