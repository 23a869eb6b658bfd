"""The inbox page and the plain-HTTP fallbacks; the badge and toasts' hooks on every page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from notifications import selectors, services

pytestmark = pytest.mark.django_db(transaction=True)
INBOX = reverse("notifications:inbox")


@pytest.fixture
def alice(make_user: Callable[..., Any]) -> Any:
    return make_user("alice")


@pytest.fixture
def client_for(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def test_inbox_needs_a_login() -> None:
    reply = Client().get(INBOX)
    assert reply.status_code == 302
    assert reply["Location"].startswith(reverse("login"))


def test_inbox_lists_newest_first_with_pages_and_read_state(
    client_for: Client, alice: Any, settings: Any
) -> None:
    settings.NOTIFICATIONS_PAGE_SIZE = 2
    sent = [services.notification_send(title=f"n{i}", users=[alice]) for i in range(5)]
    services.notification_mark_read(user=alice, notification_id=sent[4].pk)
    page1 = client_for.get(INBOX).context["page"]
    assert [n.title for n in page1] == ["n4", "n3"]
    assert [n.is_read for n in page1] == [True, False]
    assert page1.paginator.num_pages == 3
    page3 = client_for.get(INBOX, {"page": 3})
    assert [n.title for n in page3.context["page"]] == ["n0"]
    assert page3.context["unread"] == 4
    html = client_for.get(INBOX).content.decode()
    assert 'rel="next"' in html
    assert "Mark all read" in html


def test_text_is_escaped(client_for: Client, alice: Any) -> None:
    services.notification_send(
        title="<script>alert(1)</script>", body="<img src=x onerror=alert(2)>", users=[alice]
    )
    html = client_for.get(INBOX).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html


def test_opening_marks_read_and_follows_the_link(client_for: Client, alice: Any) -> None:
    linked = services.notification_send(title="see", link="/chat/general/", users=[alice])
    plain = services.notification_send(title="plain", users=[alice])
    reply = client_for.get(reverse("notifications:open", args=[linked.pk]))
    assert reply["Location"] == "/chat/general/"
    reply = client_for.get(reverse("notifications:open", args=[plain.pk]))
    assert reply["Location"] == INBOX
    assert selectors.unread_count(user=alice) == 0


def test_someone_elses_notification_is_not_found(
    client_for: Client, make_user: Callable[..., Any]
) -> None:
    other = services.notification_send(title="private", users=[make_user()])
    assert client_for.get(reverse("notifications:open", args=[other.pk])).status_code == 404
    assert client_for.post(reverse("notifications:mark_read", args=[other.pk])).status_code == 404


def test_forms_mark_read_without_javascript(client_for: Client, alice: Any) -> None:
    one, _two, _three = (services.notification_send(title=t, users=[alice]) for t in "abc")
    assert client_for.get(reverse("notifications:mark_all_read")).status_code == 405
    client_for.post(reverse("notifications:mark_read", args=[one.pk]))
    assert selectors.unread_count(user=alice) == 2
    reply = client_for.post(reverse("notifications:mark_all_read"))
    assert reply["Location"] == INBOX
    assert selectors.unread_count(user=alice) == 0


def test_every_page_carries_the_socket_client_and_members_get_a_badge(
    client_for: Client,
) -> None:
    page = client_for.get(reverse("chat:room_list")).content.decode()
    assert "notifications/notify.js" in page
    assert 'id="notify-badge"' in page
    assert 'id="toasts"' in page
    visitor = Client().get(reverse("chat:room_list")).content.decode()
    # Visitors get announcements as toasts, but have no inbox.
    assert "notifications/notify.js" in visitor
    assert 'id="toasts"' in visitor
    assert 'id="notify-badge"' not in visitor


@pytest.mark.parametrize(
    "stored", ["general", "password_change", "?x=1", "#m1", "//evil.example/", "/\\evil.example/"]
)
def test_following_a_link_never_fails_nor_leaves_the_site(
    client_for: Client, alice: Any, stored: str
) -> None:
    """Links stored before the check was strict are never resolved as URL names: a bad
    one leads to the inbox, never to a 500 or another site."""
    sent = services.notification_send(title="old", users=[alice])
    type(sent).objects.filter(pk=sent.pk).update(link=stored)
    reply = client_for.get(reverse("notifications:open", args=[sent.pk]))
    assert reply.status_code == 302
    assert reply["Location"] == INBOX
    assert selectors.unread_count(user=alice) == 0  # still marked read on the way


def test_a_good_link_is_followed_as_stored(client_for: Client, alice: Any) -> None:
    sent = services.notification_send(title="t", users=[alice], link="/chat/x/?a=1#m5")
    reply = client_for.get(reverse("notifications:open", args=[sent.pk]))
    assert (reply.status_code, reply["Location"]) == (302, "/chat/x/?a=1#m5")
