from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from notifications import selectors, services
from notifications.models import Audience, Notification, Recipient
from rtsite.errors import ActionError, ErrorCode

pytestmark = pytest.mark.django_db(transaction=True)


def code_of(**kwargs: Any) -> ErrorCode:
    with pytest.raises(ActionError) as caught:
        services.notification_send(**kwargs)
    return caught.value.code


def test_refused_sends_store_nothing(make_user: Callable[..., Any]) -> None:
    alice = make_user()
    assert code_of(title="t") == ErrorCode.INVALID  # no audience
    assert code_of(title="t", users=[alice], to_all_users=True) == ErrorCode.INVALID
    assert code_of(title="  ", users=[alice]) == ErrorCode.INVALID
    assert code_of(title="t", users=[alice], level="loud") == ErrorCode.INVALID
    assert code_of(title="x" * 201, users=[alice]) == ErrorCode.TOO_LARGE
    for link in ["javascript:alert(1)", "https://evil.example/x", "//evil.example/x"]:
        assert code_of(title="t", users=[alice], link=link) == ErrorCode.INVALID, link
    assert not Notification.objects.exists()


@pytest.mark.parametrize("link", ["", "/chat/general/", "http://localhost/chat/"])
def test_safe_links(make_user: Callable[..., Any], link: str) -> None:
    sent = services.notification_send(title="t", users=[make_user()], link=link)
    assert sent.link == link


def test_audiences_and_inboxes(make_user: Callable[..., Any]) -> None:
    alice, bob, carol = make_user(), make_user(), make_user()
    staff = Group.objects.create(name="staff-team")
    staff.user_set.add(bob)
    to_alice = services.notification_send(title="for alice", users=[alice, alice])
    to_group = services.notification_send(title="for staff", group=staff)
    to_users = services.notification_send(title="for users", to_all_users=True)
    to_all = services.notification_send(title="for all", to_everyone=True)
    assert (to_alice.recipients_count, to_group.recipients_count) == (1, 1)
    assert to_users.recipients_count == 3
    assert Recipient.objects.filter(notification=to_users).count() == 0  # one insert only
    titles = lambda user: [n.title for n in selectors.inbox(user=user)]  # noqa: E731
    assert titles(alice) == ["for all", "for users", "for alice"]
    assert titles(bob) == ["for all", "for users", "for staff"]
    assert titles(carol) == ["for all", "for users"]
    assert titles(AnonymousUser()) == ["for all"]
    assert to_all.audience == Audience.EVERYONE


def test_broadcasts_count_from_when_the_account_existed(make_user: Callable[..., Any]) -> None:
    services.notification_send(title="before", to_all_users=True)
    newcomer = make_user()
    assert [n.title for n in selectors.inbox(user=newcomer)] == []


def test_read_state(make_user: Callable[..., Any]) -> None:
    alice, bob = make_user(), make_user()
    first = services.notification_send(title="one", users=[alice])
    services.notification_send(title="two", to_all_users=True)
    assert selectors.unread_count(user=alice) == 2
    assert services.notification_mark_read(user=alice, notification_id=first.pk) == [first.pk]
    assert services.notification_mark_read(user=alice, notification_id=first.pk) == []
    assert selectors.unread_count(user=alice) == 1
    assert selectors.unread_count(user=bob) == 1  # read state is per user
    assert len(services.notification_mark_all_read(user=alice)) == 1
    assert selectors.unread_count(user=alice) == 0
    with pytest.raises(ActionError) as caught:  # not hers
        services.notification_mark_read(user=bob, notification_id=first.pk)
    assert caught.value.code == ErrorCode.NOT_FOUND
