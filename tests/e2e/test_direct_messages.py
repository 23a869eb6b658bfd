"""Direct messages in Chromium, with two people: bob opens a conversation from alice's
name in a room; alice's room list shows it at once and counts it; they write to each
other live. Then bob blocks alice: her messages fold away in the room, and she can no
longer write to him."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chat import services
from chat.models import Room
from tests.conftest import Daphne, own_daphne
from tests.e2e.conftest import log_in, off_loop, shot
from tests.e2e.test_site import axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDE = {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    """A daphne of the test's own, stopped before the database is flushed: the pages'
    read cursors are written in batches that can still be on their way at the end, and
    on PostgreSQL such a write racing the flush's TRUNCATE can deadlock it."""
    yield from own_daphne(tmp_path)


def say(page: Any, text: str) -> None:
    page.fill("#composer-body", text)
    page.press("#composer-body", "Enter")
    page.wait_for_function("document.getElementById('composer-body').value === ''")


def test_a_direct_conversation_between_two_pages_and_a_block(
    browser: Any,
    server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice_user = make_user("alice")
    make_user("bob")
    room = make_room(title="Lobby")
    off_loop(lambda: services.message_post(room=room, author=alice_user, body="anyone around?"))
    alices_list = log_in(browser, server.url, "alice", "/chat/", **WIDE)
    bob = log_in(browser, server.url, "bob", f"/chat/{room.slug}/", **WIDE)
    # bob opens alice's name on her message, and writes to her.
    bob.click('#messages .message button.author:has-text("alice")')
    menu = bob.locator(".person-menu")
    menu.wait_for()
    assert bob.evaluate("document.activeElement.textContent") == "Send a direct message"
    assert axe_problems(bob, "a person's menu") == []
    bob.set_viewport_size(WIDE["viewport"])
    menu.locator("text=Send a direct message").click()
    bob.wait_for_url("**/chat/dm-*/")
    bob.wait_for_selector("[data-live-state=connected]")
    assert bob.locator("#room-title").inner_text().endswith("alice")
    say(bob, "hi alice, a word in private?")
    # alice's open room list gains the conversation, counted, titled "bob".
    card = alices_list.locator("#directs [data-kind=direct]", has_text="bob")
    card.wait_for()
    card.locator("[data-room-unread]", has_text="1").wait_for()
    shot(alices_list, "direct-list")
    assert axe_problems(alices_list, "room list with a direct conversation") == []
    alices_list.set_viewport_size(WIDE["viewport"])
    card.locator("a").click()
    alice = alices_list
    alice.wait_for_url("**/chat/dm-*/")
    alice.wait_for_selector("[data-live-state=connected]")
    alice.locator("#messages .message .body", has_text="a word in private").wait_for()
    say(alice, "sure, go ahead")
    bob.locator("#messages .message .body", has_text="sure, go ahead").wait_for()
    shot(bob, "direct-conversation")
    # bob blocks her from her name in the conversation's online list.
    bob.click('#online button.person:has-text("alice")')
    bob.locator(".person-menu").locator("text=Block alice").click()
    # Her messages fold away in the room he shares with her; he may still look.
    bob.goto(f"{server.url}/chat/{room.slug}/")
    bob.wait_for_selector("[data-live-state=connected]")
    folded = bob.locator('#messages .message.blocked[data-author="alice"]')
    folded.locator(".blocked-note", has_text="A message from someone you blocked.").wait_for()
    assert not folded.locator(".body").is_visible()
    shot(bob, "blocked-message-folded")
    folded.locator("text=Show it").click()
    assert folded.locator(".body", has_text="anyone around?").is_visible()
    # She can no longer write to him.
    say_refused = alice
    say_refused.fill("#composer-body", "still there?")
    say_refused.press("#composer-body", "Enter")
    alice.locator("#composer-status", has_text="not accepting your messages").wait_for()
    assert off_loop(
        lambda: list(alice_user.chat_blocked_by.values_list("blocker__username", flat=True))
    ) == ["bob"]
