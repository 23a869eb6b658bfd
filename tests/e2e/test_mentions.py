"""Mentions met where they were made, in Chromium: reading one in its room marks its
notification read in every tab, and the room on screen toasts nothing about itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chat.models import Room
from tests.conftest import Daphne
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Counts every toast a page shows, however briefly (one is taken away once read).
COUNT_TOASTS = """() => {
  window.toastsShown = [];
  new MutationObserver((changes) => {
    for (const change of changes)
      for (const node of change.addedNodes) window.toastsShown.push(node.textContent);
  }).observe(document.getElementById("toasts"), {childList: true});
}"""


def say(page: Any, text: str) -> None:
    page.fill("#composer-body", text)
    page.press("#composer-body", "Escape")  # the names "@" offers, if open
    page.press("#composer-body", "Enter")
    page.wait_for_function("document.getElementById('composer-body').value === ''")


def wait_badge(page: Any, count: int) -> None:
    page.wait_for_function(f"document.getElementById('notify-badge').dataset.count === '{count}'")


def test_reading_a_mention_in_its_room_clears_it_in_the_users_other_tabs(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    make_user("bob")
    room = make_room(title="Lobby")
    bob_inbox = log_in(browser, daphne_server.url, "bob", "/notifications/")
    # bob has been in the room before (it keeps his place), and is away now.
    bob_inbox.goto(f"{daphne_server.url}/chat/{room.slug}/")
    bob_inbox.wait_for_selector("[data-live-state=connected]")
    bob_inbox.goto(f"{daphne_server.url}/notifications/")
    bob_inbox.wait_for_selector("[data-live-state=connected]")
    alice = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    say(alice, "@bob while you were away")
    bob_inbox.locator("#inbox .inbox-item.unread", has_text="while you were away").wait_for()
    wait_badge(bob_inbox, 1)
    # He opens the room in another tab, at what he has not read: the inbox tab follows.
    bob_room = log_in(
        browser, daphne_server.url, "bob", f"/chat/{room.slug}/", context=bob_inbox.context
    )
    bob_room.locator("#messages .message.mentions-me", has_text="while you were away").wait_for()
    wait_badge(bob_inbox, 0)
    # Mentioned while there, again and again: the badge never climbs for good.
    for text in ("look at this", "and this", "and this too"):
        say(alice, f"@bob {text}")
        bob_room.locator("#messages .message", has_text=text).wait_for()
        bob_inbox.locator("#inbox .inbox-item", has_text=text).wait_for()
    wait_badge(bob_inbox, 0)
    wait_badge(bob_room, 0)
    assert bob_inbox.locator("#inbox .inbox-item.unread").count() == 0
    bob_inbox.reload()
    bob_inbox.wait_for_selector("[data-live-state=connected]")
    wait_badge(bob_inbox, 0)
    for page in (alice, bob_inbox):
        page.context.close()


def test_a_mention_in_the_room_on_screen_brings_no_toast_but_elsewhere_does(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    make_user("bob")
    room, other = make_room(title="Lobby"), make_room(title="Other")
    bob_room = log_in(browser, daphne_server.url, "bob", f"/chat/{room.slug}/")
    bob_elsewhere = log_in(browser, daphne_server.url, "bob", "/chat/", context=bob_room.context)
    bob_other_room = log_in(
        browser, daphne_server.url, "bob", f"/chat/{other.slug}/", context=bob_room.context
    )
    for page in (bob_room, bob_elsewhere, bob_other_room):
        page.evaluate(COUNT_TOASTS)
    alice = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    say(alice, "@bob are you there")
    bob_room.locator("#messages .message.mentions-me", has_text="are you there").wait_for()
    for page in (bob_elsewhere, bob_other_room):
        page.locator("#toasts .toast", has_text="alice mentioned you in Lobby").wait_for()
    assert bob_room.evaluate("window.toastsShown") == []
    # Hidden, the room's own tab toasts like any other.
    bob_room.evaluate(
        "() => Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'})"
    )
    say(alice, "@bob hello again")
    bob_elsewhere.locator("#toasts .toast", has_text="mentioned you 2 times").wait_for()
    bob_room.wait_for_function("window.toastsShown.length > 0")
    for page in (alice, bob_room):
        page.context.close()
