"""Rooms and messages stored before the change counter and the retention policy."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("chat", "0002_room_slug_any_case_limits")]
AFTER = [("chat", "0004_message_search")]


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_rooms_keep_their_limit_and_messages_get_a_seq(
    make_user: Any,
) -> None:
    user = make_user()
    old = migrate(BEFORE)
    room_model, message_model = old.get_model("chat", "Room"), old.get_model("chat", "Message")
    ten = room_model.objects.create(slug="old-ten", title="Old ten", retention=10)
    keeps_all = room_model.objects.create(slug="old-all", title="Old all", retention=0)
    ids = [
        message_model.objects.create(room=room, author_id=user.pk, body=f"m{i}").pk
        for i, room in enumerate([ten, keeps_all, ten])
    ]
    try:
        new = migrate(AFTER)
        rooms = new.get_model("chat", "Room").objects
        messages = new.get_model("chat", "Message").objects
        # No room's policy changes, and nothing is deleted.
        assert (rooms.get(slug="old-ten").retention, rooms.get(slug="old-ten").retention_days) == (
            10,
            0,
        )
        assert rooms.get(slug="old-all").retention == 0
        assert messages.count() == 3
        # Open pages' cursors were message ids: each message's seq is its id, and each
        # room's counter starts at its newest.
        assert [messages.get(pk=pk).seq for pk in ids] == ids
        assert rooms.get(slug="old-ten").seq == ids[2]
        assert rooms.get(slug="old-all").seq == ids[1]
        # The search index covers what was stored before it.
        from chat.selectors import message_matches

        assert list(message_matches("m1").values_list("pk", flat=True)) == [ids[1]]
    finally:
        migrate(executor_leaf())


def executor_leaf() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
