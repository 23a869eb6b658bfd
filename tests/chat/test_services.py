from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from chat import services
from chat.models import Message, Room
from rtsite.errors import ActionError, ErrorCode

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def author(make_user: Callable[..., Any]) -> Any:
    return make_user()


def post(room: Room, author: Any, body: str) -> Message:
    return services.message_post(room=room, author=author, body=body)


def error_code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(ActionError) as caught:
        call()
    return caught.value.code


def test_body_is_trimmed_and_stored(make_room: Callable[..., Room], author: Any) -> None:
    message = post(make_room(), author, "  hello there \n")
    assert Message.objects.get(pk=message.pk).body == "hello there"


def test_control_characters_are_stripped_the_same_on_every_database(
    make_room: Callable[..., Room], author: Any
) -> None:
    """PostgreSQL refuses NUL in text; SQLite stores it. Neither sees one."""
    message = post(make_room(), author, "a\x00b\x1b[31mc\r\nline\ttwo\x7f")
    assert Message.objects.get(pk=message.pk).body == "ab[31mc\nline\ttwo"


@pytest.mark.parametrize(
    "body", ["\u200b", "\ufeff", "\u200b\u200c\u200d\u2060", "\x00 \x01", "\u3164"]
)
def test_a_body_of_invisible_characters_is_empty(
    make_room: Callable[..., Room], author: Any, body: str
) -> None:
    assert error_code(lambda: post(make_room(), author, body)) == ErrorCode.INVALID
    assert not Message.objects.exists()


def test_rooms_are_checked_wherever_they_are_made(make_room: Callable[..., Room]) -> None:
    from django.core.exceptions import ValidationError

    make_room(slug="ops-room")
    bad = [
        {"slug": "OPS-ROOM", "title": "Ops"},  # the same slug in another case
        {"slug": "long", "title": "Long", "description": "x" * 1001},
        {"slug": "big", "title": "Big", "retention": 100_001},
        {"slug": "blank", "title": "\u200b"},
    ]
    for fields in bad:
        with pytest.raises(ValidationError):
            services.room_create(**fields)
    # The database holds the line too, for writes that skip validation.
    from django.db import IntegrityError, transaction

    for fields in (
        {"slug": "Ops-Room", "title": "x"},
        {"slug": "d", "title": "d", "description": "y" * 1001},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Room.objects.create(**fields)
    room = services.room_create(slug="fine", title=" Fine\x00 room ", description="ok\x07")
    assert (room.title, room.description) == ("Fine room", "ok")


def test_refused_posts_store_nothing(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room()
    assert error_code(lambda: post(room, author, " \n\t ")) == ErrorCode.INVALID
    assert error_code(lambda: post(room, AnonymousUser(), "hi")) == ErrorCode.AUTH_REQUIRED
    with override_settings(CHAT_MAX_MESSAGE_LENGTH=5):
        assert error_code(lambda: post(room, author, "123456")) == ErrorCode.TOO_LARGE
        post(room, author, "12345")
    # Deactivated in the database (the object the socket holds still says active).
    type(author).objects.filter(pk=author.pk).update(is_active=False)
    assert author.is_active
    assert error_code(lambda: post(room, author, "hi")) == ErrorCode.AUTH_REQUIRED
    assert Message.objects.filter(room=room).count() == 1


def test_muted_user_cannot_post(make_room: Callable[..., Room], author: Any) -> None:
    room, other_room = make_room(), make_room()
    services.user_mute(room=room, user=author, reason="spam")
    assert error_code(lambda: post(room, author, "hi")) == ErrorCode.MUTED
    post(other_room, author, "still fine elsewhere")
    assert services.user_unmute(room=room, user=author) is True
    post(room, author, "back")


def test_retention_keeps_the_newest(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room(retention=3)
    ids = [post(room, author, f"m{i}").pk for i in range(6)]
    assert list(Message.objects.filter(room=room).values_list("id", flat=True)) == ids[-3:]


def test_default_retention_is_ten_and_zero_keeps_all(
    make_room: Callable[..., Room], author: Any
) -> None:
    default, unlimited = make_room(), make_room(retention=0)
    assert default.retention == 10
    for i in range(14):
        post(default, author, f"d{i}")
        post(unlimited, author, f"u{i}")
    assert Message.objects.filter(room=default).count() == 10
    assert Message.objects.filter(room=unlimited).count() == 14


def test_prune_applies_a_lowered_retention(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room(retention=0)
    for i in range(8):
        post(room, author, f"m{i}")
    room.retention = 5
    room.save()
    assert services.room_prune(room=room) == 3
    assert services.room_prune(room=room) == 0
    assert Message.objects.filter(room=room).count() == 5


def test_delete_across_rooms(make_room: Callable[..., Room], author: Any) -> None:
    one, two = make_room(), make_room()
    doomed = [post(one, author, "a"), post(two, author, "b")]
    keep = post(one, author, "c")
    assert services.message_delete(messages=doomed) == 2
    assert list(Message.objects.filter(room__in=[one, two])) == [keep]


def test_posting_to_a_deleted_room_is_refused(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room()
    Room.objects.filter(pk=room.pk).delete()
    assert error_code(lambda: post(room, author, "anyone?")) == ErrorCode.NOT_FOUND
