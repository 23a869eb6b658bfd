"""Inbox reads: a sync's unread count and its list agree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from notifications import selectors, services

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_list_of_a_sync_stops_where_its_count_stopped(make_user: Callable[..., Any]) -> None:
    alice = make_user("alice")
    first = services.notification_send(title="one", users=[alice])
    services.notification_send(title="to all", to_all_users=True)
    services.notification_mark_read(user=alice, notification_id=first.pk)
    unread, top = selectors.inbox_state(user=alice)
    assert unread == 1

    # Sent after the count was read: in neither the count nor the list. It reaches the
    # page live (or in its next sync) and is counted then, once.
    later = services.notification_send(title="later", users=[alice])
    after, _ = selectors.inbox_after(user=alice, after_id=0, limit=10, upto=top)
    recent, _ = selectors.inbox_recent(user=alice, limit=10, upto=top)
    for page in (after, recent):
        assert [n.title for n in page] == ["one", "to all"]
    assert later.pk > top
    assert selectors.inbox_state(user=alice) == (2, later.pk)


def test_a_visitor_has_nothing_unread() -> None:
    sent = services.notification_send(title="news", to_everyone=True)
    assert selectors.inbox_state(user=AnonymousUser()) == (0, sent.pk)
