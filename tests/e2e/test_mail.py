"""A missed mention, emailed through a real SMTP server (aiosmtpd) by the digest command
run as the timer runs it, and the email's links followed in Chromium: to the message,
and (logged out) to unsubscribe."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from chat.models import Room
from tests.conftest import ROOT, Daphne, SmtpServer, child_env
from tests.e2e.conftest import log_in
from tests.e2e.test_mentions import say
from tests.e2e.test_site import axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def send_digests(server: Daphne, smtp: SmtpServer) -> subprocess.CompletedProcess[str]:
    """One pass of ``manage.py send_digests``, a process of its own (as the timer runs
    it), mailing through ``smtp``, linking to ``server``, with no delay."""
    env = child_env(**smtp.env(), SITE_URL=server.url, NOTIFICATIONS_EMAIL_DELAY_SECONDS="0")
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "send_digests"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missed_mention_is_emailed_and_unsubscribed_from_without_logging_in(
    browser: Any,
    daphne_server: Daphne,
    smtp_server: SmtpServer,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice", email="alice@example.com")
    make_user("bob", email="bob@example.com")
    room = make_room(title="General")
    alice = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    say(alice, "@bob the build is green")
    run = send_digests(daphne_server, smtp_server)
    assert run.returncode == 0, run.stderr
    assert "sent 1 digest email" in run.stdout
    [mail] = smtp_server.messages
    assert mail["To"] == "bob@example.com"
    assert mail["Subject"] == "1 thing you missed on rtsite"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "alice mentioned you in General" in text
    assert "the build is green" in text
    unsubscribe = mail["List-Unsubscribe"].strip()[1:-1]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in text
    # The email's link leads bob to the message in its room.
    link = re.search(rf"{re.escape(daphne_server.url)}/chat/{room.slug}/#m\d+", text)
    assert link
    bob = log_in(browser, daphne_server.url, "bob", "/notifications/")
    bob.goto(link.group(0))
    bob.locator("#messages .message.mentions-me", has_text="the build is green").wait_for()
    # Nothing new: a second pass sends nothing.
    assert send_digests(daphne_server, smtp_server).returncode == 0
    assert len(smtp_server.messages) == 1

    # Logged out, the link from the email asks first, then unsubscribes.
    visitor = browser.new_context().new_page()
    visitor.set_default_timeout(15_000)
    visitor.goto(unsubscribe)
    visitor.get_by_text("Stop emails about mentions?").wait_for()
    problems = axe_problems(visitor, "unsubscribe")
    visitor.get_by_role("button", name="Unsubscribe").click()
    visitor.get_by_text("You will get no more emails about mentions.").wait_for()
    problems += axe_problems(visitor, "unsubscribed")
    assert problems == [], "\n".join(problems)

    # bob's settings show it: mentions off, the rest on.
    bob.goto(f"{daphne_server.url}/notifications/settings/")
    assert not bob.is_checked("#email-mention")
    assert bob.is_checked("#email-direct")
    assert bob.is_checked("#email-staff")
    for page in (alice, bob, visitor):
        page.context.close()
