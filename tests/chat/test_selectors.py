"""Reads: full-text search on each database's own index, and unread counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings

from chat import selectors, services
from chat.models import Block, Membership, ReadState, Role, Room

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


def test_counting_many_read_conversations_costs_two_queries(
    make_user: Callable[..., Any], django_assert_max_num_queries: Any
) -> None:
    reader = make_user("reader")
    for i in range(30):
        other = make_user(f"friend{i}")
        room = services.direct_open(user=other, usernames=["reader"])
        message = services.message_post(room=room, author=other, body="hi")
        services.read_mark(user=reader, room=room, message_id=message.pk)
    with django_assert_max_num_queries(2):
        counts = selectors.unread_counts(user=reader)
    assert len(counts) == 30
    assert {c.unread for c in counts.values()} == {0}


def test_a_sockets_viewer_is_read_in_one_query_role_and_blocks_included(
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
    django_assert_num_queries: Any,
) -> None:
    owner, grouped, blocker, stranger = (make_user() for _ in range(4))
    team = Group.objects.create(name="team")
    grouped.groups.add(team)
    room = make_room(private=True, group=team)
    Membership.objects.create(room=room, user=owner, role=Role.OWNER)
    ReadState.objects.create(room=room, user=owner, last_read_id=7)
    Block.objects.create(blocker=blocker, blocked=stranger)
    for user, role, blocks in [
        (owner, Role.OWNER, False),
        (grouped, Role.MEMBER, False),  # a member through the room's group
        (blocker, None, True),
        (stranger, None, False),
    ]:
        with django_assert_num_queries(1):
            viewer = selectors.viewer_state(room=room, user=user)
        assert (viewer.role, viewer.blocks) == (role, blocks)
        assert viewer.role == selectors.member_role(room=room, user=user)
    assert selectors.viewer_state(room=room, user=owner).last_read == 7
    # Without the group, a group's member is no member.
    open_room = make_room()
    assert selectors.viewer_state(room=open_room, user=grouped).role is None
