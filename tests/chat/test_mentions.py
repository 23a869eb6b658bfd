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
