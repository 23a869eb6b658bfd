from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import selectors, services
from notifications.models import Audience, Notification, Recipient
from realtime.errors import ActionError, ErrorCode

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
    for link in [
        "javascript:alert(1)",
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example/x",  # a browser reads /\ as //
        "general",  # a URL name: never resolved
        "password_change",
        "?x=1",
        "#m1",
        "ftp://localhost/x",
        "http://user@localhost/x",
        "/a b",
        "/a\x00b",
    ]:
        assert code_of(title="t", users=[alice], link=link) == ErrorCode.INVALID, link
    assert code_of(title="t", users=[alice], link="/" + "x" * 600) == ErrorCode.TOO_LARGE
    # Invisible-only and control-character-only titles are empty.
    for title in ["\u200b\u200b", "\ufeff", "\x00\x01", " \u2060 "]:
        assert code_of(title=title, users=[alice]) == ErrorCode.INVALID, repr(title)
    alice.is_active = False
    alice.save()
    assert code_of(title="t", users=[alice]) == ErrorCode.INVALID  # deactivated
    assert not Notification.objects.exists()


def test_control_characters_are_stripped_from_titles_and_bodies(
    make_user: Callable[..., Any],
) -> None:
    sent = services.notification_send(
        title="a\x00b\nc\td", body="line\x00 one\r\nline\ttwo\x07", users=[make_user()]
    )
    sent.refresh_from_db()
    assert sent.title == "ab c d"  # one line
    assert sent.body == "line one\nline\ttwo"  # newlines and tabs kept


@pytest.mark.parametrize(
    ("link", "stored"),
    [
        ("", ""),
        ("/chat/general/", "/chat/general/"),
        ("/chat/general/?x=1#m1", "/chat/general/?x=1#m1"),
        # Absolute URLs on a host of this site, any port, keep only their path.
        ("http://localhost/chat/", "/chat/"),
        ("https://127.0.0.1:8101/chat/x/?a=1#m2", "/chat/x/?a=1#m2"),
        ("http://127.0.0.1:8101", "/"),
    ],
)
def test_safe_links(make_user: Callable[..., Any], link: str, stored: str) -> None:
    sent = services.notification_send(title="t", users=[make_user()], link=link)
    assert sent.link == stored


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


def test_subjects_seen_mark_their_unread_notifications_read_together(
    make_user: Callable[..., Any],
) -> None:
    """A batch of readers who saw what their notifications show: one query finds them
    and one insert marks them, however many readers; only each reader's own, only the
    subjects they saw, and never one read already."""
    alice, bob, carol = make_user(), make_user(), make_user()

    def mention(user: Any, subject: str) -> Notification:
        return services.notification_send(title="you", users=[user], subject=subject)

    a1, a2 = mention(alice, "chat.message:1"), mention(alice, "chat.message:2")
    b1, b2 = mention(bob, "chat.message:1"), mention(bob, "chat.message:3")
    c1 = mention(carol, "chat.message:1")
    services.notification_mark_read(user=carol, notification_id=c1.pk)
    seen = {alice.pk: ["chat.message:1"], bob.pk: ["chat.message:1", "chat.message:3"]}
    # Find, insert, the readers (for their counts), and one count per reader told.
    with CaptureQueriesContext(connection) as captured:
        marked = services.notification_read_subjects(seen={**seen, carol.pk: ["chat.message:1"]})
    sql = [q["sql"].split()[0] for q in captured.captured_queries]
    assert [word for word in sql if word not in ("BEGIN", "COMMIT")] == [
        "SELECT",
        "INSERT",
        "SELECT",
        *["SELECT"] * 2,
    ]
    assert {user: sorted(ids) for user, ids in marked.items()} == {
        alice.pk: [a1.pk],
        bob.pk: sorted([b1.pk, b2.pk]),
    }
    assert [n.pk for n in selectors.inbox(user=alice).filter(is_read=False)] == [a2.pk]
    assert selectors.unread_count(user=bob) == 0
    assert services.notification_read_subjects(seen=seen) == {}
    assert services.notification_read_subjects(seen={}) == {}
