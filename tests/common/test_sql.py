"""Queries compiled once (``common.sql``) give what the ORM gives, on either database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Exists, OuterRef

from chat.models import Message, Mute, Room
from common.sql import Compiled, CompiledUpdate

pytestmark = pytest.mark.django_db(transaction=True)


def _muted(p: Any) -> Any:
    return (
        Room.objects.filter(pk=p.room)
        .annotate(muted=Exists(Mute.objects.filter(user=p.user, room=OuterRef("pk"))))
        .values_list("slug", "created_at", "muted")
    )


def test_a_compiled_query_answers_as_the_orm_for_each_set_of_values(
    make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    compiled = Compiled(_muted, room=int, user=int)
    rooms = [make_room(), make_room()]
    users = [make_user(), make_user()]
    Mute.objects.create(room=rooms[1], user=users[0])
    for room in rooms:
        for user in users:
            orm = list(_muted(type("P", (), {"room": room.pk, "user": user.pk})))
            assert compiled.rows(room=room.pk, user=user.pk) == orm  # converted as the ORM
    assert compiled.first(room=10**6, user=users[0].pk) is None


def test_strings_and_slices(make_room: Callable[..., Room], make_user: Callable[..., Any]) -> None:
    author = make_user()
    room = make_room()
    Message.objects.create(room=room, author=author, body="x", nonce="n-1", seq=1)
    sent = Compiled(
        lambda p: Message.objects.filter(author=p.author, nonce=p.nonce).values_list("body")[:1],
        author=int,
        nonce=str,
    )
    assert sent.rows(author=author.pk, nonce="n-1") == [("x",)]
    assert sent.rows(author=author.pk, nonce="n-2") == []


def test_a_parameter_that_does_not_reach_the_sql_is_refused() -> None:
    fixed = Compiled(lambda p: Room.objects.filter(pk=1).values_list("pk"), room=int)
    with pytest.raises(ValueError, match="room"):
        fixed.rows(room=1)


def test_a_compiled_update_changes_the_rows_the_orm_would(
    make_room: Callable[..., Room],
) -> None:
    rooms = [make_room(), make_room()]
    set_seq = CompiledUpdate(
        lambda p: (Room.objects.filter(pk=p.room), {"seq": p.seq, "topic": p.topic}),
        room=int,
        seq=int,
        topic=str,
    )
    assert set_seq.run(room=rooms[0].pk, seq=7, topic="news") == 1
    assert set_seq.run(room=10**6, seq=8, topic="none") == 0
    assert list(
        Room.objects.filter(pk__in=[r.pk for r in rooms]).order_by("pk").values_list("seq", "topic")
    ) == [
        (7, "news"),
        (rooms[1].seq, rooms[1].topic),
    ]
