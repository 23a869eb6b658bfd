"""Email digests of missed notifications, sent to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from chat import services as chat
from chat.models import Room
from notifications import digests, selectors, services, tokens
from notifications.models import EmailDelivery, EmailPreference, Kind, Notification
from tests.conftest import ROOT, SmtpServer, child_env, free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(settings: Any) -> None:
    settings.SITE_URL = "https://chat.example.com"
    settings.SITE_NAME = "Example Chat"
    settings.NOTIFICATIONS_EMAIL_DELAY_SECONDS = 600


@pytest.fixture
def people(make_user: Callable[..., Any]) -> tuple[Any, Any]:
    return make_user("alice", email="alice@example.com"), make_user("bob", email="bob@example.com")


def mention(room: Room, author: Any, text: str) -> Any:
    return chat.message_post(room=room, author=author, body=text)


def later(minutes: int = 11) -> Any:
    return timezone.now() + timedelta(minutes=minutes)


def links(message: Any) -> list[str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.findall(r"https?://\S+", text)


def test_mentions_unread_past_the_delay_make_one_digest(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, bob = people
    general, random = make_room(title="General"), make_room(title="Random")
    first = mention(general, alice, "@bob look at this")
    mention(random, alice, "@bob and this <b>bold</b> & more")
    mention(general, bob, "@alice hi")  # alice's: she gets her own digest
    # Not yet: nothing has waited ten minutes.
    assert digests.digests_send().sent == 0
    assert smtp_server.messages == []

    result = digests.digests_send(now=later())
    assert (result.sent, result.items) == (2, 3)
    to_bob = [m for m in smtp_server.messages if m["To"] == "bob@example.com"]
    assert len(to_bob) == 1
    sent = to_bob[0]
    assert sent["Subject"] == "2 things you missed on Example Chat"
    # (Folded after the colon: a long header's value starts on the next line.)
    unsubscribe = sent["List-Unsubscribe"].strip()
    assert re.fullmatch(r"<https://chat\.example\.com/notifications/unsubscribe/\S+/>", unsubscribe)
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The links go to each message on the site.
    found = links(sent)
    assert f"https://chat.example.com/chat/{general.slug}/#m{first.pk}" in found
    assert unsubscribe[1:-1] in found
    assert "https://chat.example.com/notifications/settings/" in found
    # The HTML part escapes what people wrote.
    html = sent.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    assert "<b>bold</b>" not in html
    assert f'href="https://chat.example.com/chat/{general.slug}/#m{first.pk}"' in html


def test_a_second_run_sends_nothing_again(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, _ = people
    mention(make_room(), alice, "@bob one")
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    call_command("send_digests")
    call_command("send_digests")
    assert len(smtp_server.messages) == 1
    assert EmailDelivery.objects.filter(sent_at__isnull=False).count() == 1
    # What comes after the email is news: a new notification (not folded into the one
    # emailed), in the next digest once it is due.
    mention(make_room(), alice, "@bob two")
    assert Notification.objects.count() == 2
    assert digests.digests_send(now=later()).sent == 1
    assert len(smtp_server.messages) == 2
    assert smtp_server.messages[1]["Subject"] == "1 thing you missed on Example Chat"


def test_one_due_brings_the_newer_ones_along(
    site: None,
    settings: Any,
    smtp_server: SmtpServer,
    people: tuple[Any, Any],
    make_room: Callable[..., Room],
) -> None:
    settings.NOTIFICATIONS_EMAIL_DELAY_SECONDS = 300  # under the fold window (600)
    alice, _ = people
    room = make_room()
    mention(room, alice, "@bob old")
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=6))
    mention(make_room(), alice, "@bob new")  # not due by itself
    mention(room, alice, "@bob folded")  # folded into the first: "2 times"
    assert Notification.objects.count() == 2
    assert digests.digests_send().sent == 1
    assert smtp_server.messages[0]["Subject"] == "3 things you missed on Example Chat"


def test_read_ones_are_not_emailed(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, bob = people
    room = make_room()
    message = mention(room, alice, "@bob read me")
    chat.read_mark(user=bob, room=room, message_id=message.pk)  # bob saw it in the room
    assert digests.digests_send(now=later()).sent == 0
    assert smtp_server.messages == []


def test_preferences_off_send_nothing_and_staff_notifications_are_a_kind(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, bob = people
    services.email_preference_set(user=bob, wanted={Kind.MENTION: False})
    mention(make_room(), alice, "@bob muted by preference")
    assert digests.digests_send(now=later()).sent == 0
    # A broadcast from staff is still his (he did not turn those off); alice sent it.
    services.notification_send(
        title="Maintenance tonight", to_all_users=True, created_by=alice, kind=Kind.STAFF
    )
    assert digests.digests_send(now=later()).sent == 1
    assert [m["To"] for m in smtp_server.messages] == ["bob@example.com"]
    assert "Maintenance tonight" in smtp_server.messages[0].get_body().get_content()
    # Other kinds (a game's) are never emailed.
    services.notification_send(title="Your turn", users=[bob])
    assert digests.digests_send(now=later()).sent == 0


def test_users_without_an_address_or_deactivated_get_nothing(
    site: None,
    smtp_server: SmtpServer,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice")
    make_user("bob")  # no email address
    make_user("carol", email="carol@example.com", is_active=False)
    mention(make_room(), alice, "@bob @carol hello")
    assert digests.digests_send(now=later()).sent == 0


def test_a_muted_room_notifies_nothing(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, bob = people
    room = make_room()
    assert chat.room_notifications_mute(room=room, user=bob, muted=True)
    mention(room, alice, "@bob you muted this")
    assert not Notification.objects.exists()
    assert digests.digests_send(now=later()).sent == 0
    # Unmuted, mentions notify again.
    assert chat.room_notifications_mute(room=room, user=bob, muted=False)
    mention(room, alice, "@bob now you hear")
    assert Notification.objects.get().kind == Kind.MENTION


def test_a_refused_send_is_released_and_retried(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, _ = people
    mention(make_room(), alice, "@bob try again")
    smtp_server.refuse = True
    result = digests.digests_send(now=later())
    assert result.sent == 0
    assert "refused" in result.failed
    assert not result.stopped  # one message refused: the others would go on
    assert not EmailDelivery.objects.exists()  # released
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    errors = io.StringIO()
    call_command("send_digests", stderr=errors)
    assert "the mail server refused a digest" in errors.getvalue()
    smtp_server.refuse = False
    assert digests.digests_send(now=later()).sent == 1
    assert len(smtp_server.messages) == 1


def test_an_address_the_server_refuses_holds_no_one_else_up(
    site: None,
    smtp_server: SmtpServer,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice")
    make_user("bob", email="bob@example.com")
    make_user("carol", email="carol@example.com")
    smtp_server.unknown = {"bob@example.com"}
    mention(make_room(), alice, "@bob @carol standup")
    result = digests.digests_send(now=later())
    assert result.sent == 1
    assert "No such mailbox" in result.failed
    assert [m["To"] for m in smtp_server.messages] == ["carol@example.com"]
    # bob's is released: tried again at every pass (until it is too old).
    assert EmailDelivery.objects.get().user.username == "carol"


def test_a_server_refusing_everything_stops_the_pass(
    site: None,
    smtp_server: SmtpServer,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice")
    for name in ("bob", "carol", "dave", "erin"):
        make_user(name, email=f"{name}@example.com")
    smtp_server.unknown = {"bob@example.com", "carol@example.com", "dave@example.com"}
    mention(make_room(), alice, "@bob @carol @dave @erin all hands")
    result = digests.digests_send(now=later())
    assert result.stopped  # three refused in a row: erin's waits for the next pass
    assert smtp_server.messages == []
    assert not EmailDelivery.objects.exists()
    smtp_server.unknown = set()
    assert digests.digests_send(now=later()).sent == 4


def test_a_mail_server_that_is_down_loses_nothing(
    site: None, settings: Any, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    alice, _ = people
    mention(make_room(), alice, "@bob later")
    result = digests.digests_send(now=later())
    assert result.sent == 0
    assert result.stopped
    assert "cannot be used" in result.failed
    assert not EmailDelivery.objects.exists()
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    with pytest.raises(CommandError):
        call_command("send_digests")  # the timer's run shows it failed


def test_claims_are_exclusive(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, bob = people
    mention(make_room(), alice, "@bob once")
    _first, won = digests.digest_claim(user=bob, now=later())
    _second, lost = digests.digest_claim(user=bob, now=later())
    assert len(won) == 1
    assert lost == []
    # A pass meanwhile (another sender) finds nothing of bob's to send.
    assert digests.digests_send(now=later()).sent == 0
    assert smtp_server.messages == []


class Stale(list[Any]):
    """What a racing sender read before another's claim committed."""

    def order_by(self, *fields: str) -> Stale:
        return self


def test_a_sender_that_read_before_anothers_claim_wins_nothing(
    site: None,
    people: tuple[Any, Any],
    make_room: Callable[..., Room],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = people
    mention(make_room(), alice, "@bob once")
    mention(make_room(), alice, "@bob twice")
    # Both senders saw bob's two as pending; one claims first.
    stale = Stale(selectors.email_pending(user=bob, since=timezone.now() - timedelta(days=1)))
    _first, won = digests.digest_claim(user=bob, now=later())
    monkeypatch.setattr(selectors, "email_pending", lambda **kwargs: stale)
    _second, lost = digests.digest_claim(user=bob, now=later())
    assert len(won) == 2
    assert lost == []  # the unique constraint let none of its inserts through
    assert EmailDelivery.objects.count() == 2


def test_two_senders_at_once_send_each_digest_once(
    site: None, smtp_server: SmtpServer, make_user: Callable[..., Any]
) -> None:
    staff = make_user("staff", is_staff=True)
    for n in range(30):
        make_user(f"user{n:02}", email=f"user{n:02}@example.com")
    services.notification_send(
        title="Maintenance tonight", to_all_users=True, created_by=staff, kind=Kind.STAFF
    )
    # Two passes in processes of their own, at the same moment (two hosts' timers). (A
    # broadcast counts from when an account was made: no backdating, no delay instead.)
    env = child_env(
        **smtp_server.env(),
        SITE_URL="https://chat.example.com",
        NOTIFICATIONS_EMAIL_DELAY_SECONDS="0",
    )
    command = [sys.executable, str(ROOT / "manage.py"), "send_digests"]
    passes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in passes:
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == [f"user{n:02}@example.com" for n in range(30)]
    assert EmailDelivery.objects.filter(sent_at__isnull=False).count() == 30


# ---------------------------------------------------------------- unsubscribe


def test_one_click_unsubscribe_works_without_logging_in(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any], make_room: Callable[..., Room]
) -> None:
    alice, bob = people
    mention(make_room(), alice, "@bob hello")
    digests.digests_send(now=later())
    url = smtp_server.messages[0]["List-Unsubscribe"].strip()[1:-1]
    path = url.removeprefix("https://chat.example.com")
    client = Client(enforce_csrf_checks=True)  # a mail client: no cookie, no CSRF token
    # GET only asks (link scanners must not unsubscribe anyone).
    page = client.get(path)
    assert page.status_code == 200
    assert b"Stop emails about mentions?" in page.content
    assert not EmailPreference.objects.exists()
    reply = client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 200
    preference = EmailPreference.objects.get(user=bob)
    assert (preference.mention, preference.direct, preference.staff) == (False, True, True)


def test_forged_or_tampered_tokens_are_refused(
    site: None, people: tuple[Any, Any], client: Client
) -> None:
    _, bob = people
    token = tokens.unsubscribe_token(user_id=bob.pk, kinds=[Kind.MENTION])
    payload, _, signature = token.rpartition(":")
    other = tokens.unsubscribe_token(user_id=bob.pk + 1, kinds=[Kind.MENTION, Kind.STAFF])
    forged = [
        "nonsense",
        f"{other.rpartition(':')[0]}:{signature}",  # another payload, bob's signature
        f"{payload}:{signature[:-2]}xx",
        # Signed for something else (another salt): not an unsubscribe token.
        signing.dumps({"u": bob.pk, "k": ["mention"]}),
    ]
    for bad in forged:
        assert client.get(f"/notifications/unsubscribe/{bad}/").status_code == 400, bad
        reply = client.post(f"/notifications/unsubscribe/{bad}/")
        assert reply.status_code == 400, bad
        assert b"This unsubscribe link is not valid." in reply.content
    assert not EmailPreference.objects.exists()
    # A genuine token for an account deleted since changes nothing either.
    gone = tokens.unsubscribe_token(user_id=bob.pk + 100, kinds=[Kind.MENTION])
    assert client.post(f"/notifications/unsubscribe/{gone}/").status_code == 400


# ---------------------------------------------------------------- settings pages


def test_settings_page_turns_kinds_off_and_on(people: tuple[Any, Any], client: Client) -> None:
    _, bob = people
    assert client.get("/notifications/settings/").status_code == 302  # log in first
    client.force_login(bob)
    page = client.get("/notifications/settings/")
    assert page.content.count(b" checked") == 3  # every kind on by default
    assert b"Emails go to <strong>bob@example.com</strong>." in page.content
    client.post("/notifications/settings/", {"direct": "on", "staff": "on"})
    preference = EmailPreference.objects.get(user=bob)
    assert (preference.mention, preference.direct, preference.staff) == (False, True, True)
    page = client.get("/notifications/settings/")
    assert b'id="email-mention">' in page.content
    assert b"Your email settings are saved." in page.content
    # Linked from the inbox and the menu.
    assert client.get("/notifications/").content.count(b'href="/notifications/settings/"') == 2


def test_room_page_mutes_and_unmutes_notifications(
    people: tuple[Any, Any], client: Client, make_room: Callable[..., Room]
) -> None:
    alice, bob = people
    room = make_room(title="General")
    path = f"/chat/{room.slug}/notifications/"
    assert client.post(path, {"muted": "1"}).status_code == 302  # to the login
    client.force_login(bob)
    assert client.get(path).status_code == 405
    assert b"Mute notifications" in client.get(f"/chat/{room.slug}/").content
    reply = client.post(path, {"muted": "1"}, follow=True)
    assert b"Notifications from General are muted." in reply.content
    assert b"Unmute notifications" in reply.content
    chat.message_post(room=room, author=alice, body="@bob hi")
    assert not Notification.objects.exists()
    client.post(path, {"muted": "0"})
    assert b"Mute notifications" in client.get(f"/chat/{room.slug}/").content
    assert client.post("/chat/no-such-room/notifications/", {"muted": "1"}).status_code == 404


def test_an_unsubscribe_link_names_the_kinds_of_its_email(
    people: tuple[Any, Any], client: Client
) -> None:
    _, bob = people
    token = tokens.unsubscribe_token(user_id=bob.pk, kinds=[Kind.STAFF, Kind.MENTION, Kind.DIRECT])
    page = client.get(f"/notifications/unsubscribe/{token}/")
    assert b"Stop emails about mentions, direct messages and notifications from staff?" in (
        page.content
    )
    client.post(f"/notifications/unsubscribe/{token}/")
    preference = EmailPreference.objects.get(user=bob)
    assert (preference.mention, preference.direct, preference.staff) == (False, False, False)


def test_direct_messages_notify_the_others_and_are_emailed_unless_read_or_turned_off(
    site: None, smtp_server: SmtpServer, people: tuple[Any, Any]
) -> None:
    alice, bob = people
    room = chat.direct_open(user=alice, usernames=["bob"])
    mention(room, alice, "are you there?")
    mention(room, alice, "it is about tomorrow")
    notification = Notification.objects.get()
    assert (notification.kind, notification.title) == (
        Kind.DIRECT,
        "alice sent you 2 direct messages",
    )
    assert list(notification.recipients.values_list("user__username", flat=True)) == ["bob"]
    result = digests.digests_send(now=later())
    assert result.sent == 1
    sent = smtp_server.messages[0]
    assert sent["To"] == "bob@example.com"
    assert any(
        link.startswith(f"https://chat.example.com/chat/{room.slug}/#m") for link in links(sent)
    )
    assert "it is about tomorrow" in sent.get_body(preferencelist=("plain",)).get_content()
    # Read in the conversation: the next one is marked read there, and not emailed.
    reply = mention(room, alice, "never mind")
    chat.read_mark(user=bob, room=room, message_id=reply.pk)
    assert selectors.unread_count(user=bob) == 0
    # Turned off: nothing either.
    services.email_preference_set(user=bob, wanted={Kind.DIRECT: False})
    mention(room, alice, "one more")
    assert digests.digests_send(now=later(30)).sent == 0
