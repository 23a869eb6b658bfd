"""Reads: full-text search on each database's own index, and unread counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from chat import selectors, services
from chat.models import Room

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def author(make_user: Callable[..., Any]) -> Any:
    return make_user()


def bodies(found: list[Any]) -> list[str]:
    return [message.body for message in found]


def test_search_finds_every_word_newest_first_in_a_room_or_across_rooms(
    make_room: Callable[..., Room], author: Any
) -> None:
    general, ops = make_room(), make_room()
    for room, body in [
        (general, "Deploy the release on Friday"),
        (ops, "The release notes are ready"),
        (general, "lunch at noon?"),
        (ops, "Release blocked: the deploy script failed"),
        (general, "Café ouvert demain"),
    ]:
        services.message_post(room=room, author=author, body=body)
    found, more = selectors.message_search(query="release", limit=10)
    assert bodies(found) == [
        "Release blocked: the deploy script failed",
        "The release notes are ready",
        "Deploy the release on Friday",
    ]
    assert more is False
    # Every word, in any order; the last may be cut short as it is typed.
    assert bodies(selectors.message_search(query="deploy RELEA", limit=10)[0]) == [
        "Release blocked: the deploy script failed",
        "Deploy the release on Friday",
    ]
    in_ops, _ = selectors.message_search(query="release", room=ops, limit=10)
    assert bodies(in_ops) == [
        "Release blocked: the deploy script failed",
        "The release notes are ready",
    ]
    # Paging, accents, and query syntax that never reaches the database.
    page, more = selectors.message_search(query="release", limit=2)
    assert more is True
    rest, _ = selectors.message_search(query="release", before_id=page[-1].pk, limit=2)
    assert bodies(rest) == ["Deploy the release on Friday"]
    assert bodies(selectors.message_search(query="cafe", limit=10)[0]) in (
        ["Café ouvert demain"],
        [],  # PostgreSQL's 'simple' configuration keeps accents
    )
    assert bodies(selectors.message_search(query="café", limit=10)[0]) == ["Café ouvert demain"]
    for hostile in ['"', "NEAR(a b)", "a OR b AND", "*", ")(", "'; DROP TABLE x; --", ":* & !"]:
        selectors.message_search(query=hostile, limit=10)


def test_search_leaves_deleted_messages_out_and_sees_edits(
    make_room: Callable[..., Room], author: Any
) -> None:
    room = make_room()
    gone = services.message_post(room=room, author=author, body="secret plan")
    kept = services.message_post(room=room, author=author, body="public plan")
    services.message_delete(messages=[gone])
    assert bodies(selectors.message_search(query="plan", limit=10)[0]) == ["public plan"]
    services.message_edit(room=room, user=author, message_id=kept.pk, body="public roadmap")
    assert selectors.message_search(query="plan", limit=10)[0] == []
    assert bodies(selectors.message_search(query="roadmap", limit=10)[0]) == ["public roadmap"]


def test_search_uses_the_databases_own_index(make_room: Callable[..., Room], author: Any) -> None:
    services.message_post(room=make_room(), author=author, body="indexed words")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'chat_message_fts'")
        else:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE indexname = 'chat_message_body_search'"
            )
        assert cursor.fetchone() is not None


@override_settings(CHAT_UNREAD_COUNT_LIMIT=5)
def test_unread_counts_stop_at_the_limit_and_leave_out_ones_own(
    make_room: Callable[..., Room], author: Any, make_user: Callable[..., Any]
) -> None:
    room, unopened = make_room(), make_room()
    reader = make_user("reader")
    services.read_open(user=reader, room=room)
    for i in range(8):
        services.message_post(room=room, author=author, body=f"m{i}")
    services.message_post(room=room, author=reader, body="my own")
    services.message_post(room=unopened, author=author, body="elsewhere")
    counts = selectors.unread_counts(user=reader)
    assert list(counts) == [room.pk]  # only rooms the user has opened
    assert counts[room.pk].unread == 5
