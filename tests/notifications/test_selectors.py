"""Inbox reads: a sync's unread count and its list agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from notifications import selectors, services
from notifications.models import Notification

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


def test_a_resume_sends_what_came_just_before_its_cursor_too(
    make_user: Callable[..., Any],
) -> None:
    """Two processes notifying one user at one moment each publish after their own
    commit: a page can get id n+1 and then lose its socket before n arrives. A resume
    from n+1 sends n too (and anything else from just before), not what is long known."""
    alice = make_user("alice")
    old = services.notification_send(title="long ago", users=[alice])
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=60))
    first = services.notification_send(title="committed second", users=[alice])
    second = services.notification_send(title="arrived first", users=[alice])
    floor = selectors.resume_floor(after_id=second.pk)
    after, _ = selectors.inbox_after(user=alice, after_id=floor, limit=10)
    assert [n.pk for n in after] == [first.pk, second.pk]
    assert selectors.resume_floor(after_id=0) == 0
