"""Private rooms in Chromium, with two people: alice makes a private room on the site and
invites bob, whose open room list shows it at once; she removes him, and his open page
of the room closes while his room list drops it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chat.models import Membership, Room
from tests.conftest import Daphne, own_daphne
from tests.e2e.conftest import log_in, off_loop, shot
from tests.e2e.test_site import axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    """A daphne of the test's own, stopped before the database is flushed (batched read
    cursors still on their way could deadlock PostgreSQL's TRUNCATE)."""
    yield from own_daphne(tmp_path)


def test_a_private_room_made_invited_to_and_removed_from_live(
    browser: Any, server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    make_user("bob")
    wide = {"viewport": {"width": 1280, "height": 800}}
    bobs_list = log_in(browser, server.url, "bob", "/chat/", **wide)
    alice = log_in(browser, server.url, "alice", "/chat/", **wide)
    alice.click("text=New room")
    alice.fill("#id_title", "Launch plans")
    alice.check("#id_private")
    assert axe_problems(alice, "new room") == []
    alice.set_viewport_size(wide["viewport"])  # axe leaves it at a phone's width
    alice.click("text=Create room")
    alice.wait_for_url("**/chat/launch-plans-*/")  # a private room's slug ends at random
    alice.wait_for_selector("[data-live-state=connected]")
    room = off_loop(lambda: Room.objects.get(title="Launch plans"))
    assert room.private
    # She is its owner, its only member; the invite form is hers.
    alice.locator("#members li", has_text="alice").wait_for()
    alice.fill("#invite-name", "bob")
    alice.click("#invite-form button[type=submit]")
    alice.locator("#members li", has_text="bob").wait_for()
    assert alice.input_value("#invite-name") == ""
    # bob's room list, open all along, gains the room, marked private, counted.
    card = bobs_list.locator(f'[data-room="{room.slug}"]')
    card.wait_for()
    assert "(private room)" in card.inner_text() or card.locator(".visually-hidden").count()
    assert card.locator("[data-room-leave]").is_visible()
    alice.fill("#composer-body", "Welcome, bob")
    alice.press("#composer-body", "Enter")
    card.locator("[data-room-unread]", has_text="1").wait_for()
    card.locator("a").click()
    bobs_list.wait_for_url(f"**/chat/{room.slug}/")
    bobs_list.wait_for_selector("[data-live-state=connected]")
    bob = bobs_list
    bob.locator("#messages .message .body", has_text="Welcome, bob").wait_for()
    assert not bob.locator("#invite-form").is_visible()  # a member does not invite
    bobs_other_tab = log_in(browser, server.url, "bob", "/chat/", context=bob.context)
    bobs_other_tab.locator(f'[data-room="{room.slug}"]').wait_for()
    shot(alice, "private-room-owner")
    assert axe_problems(alice, "private room, its owner") == []
    alice.set_viewport_size(wide["viewport"])
    # As the room's owner she mutes him from his name, then lifts it: his page follows.
    alice.click('#members li button.person:has-text("bob")')
    alice.locator(".person-menu").locator("text=Mute bob for an hour").click()
    alice.locator("#chat-error", has_text="bob is muted in this room.").wait_for()
    bob.wait_for_selector("#composer-body:disabled")
    alice.click('#members li button.person:has-text("bob")')
    alice.locator(".person-menu").locator("text=Lift bob's mute").click()
    bob.wait_for_selector("#composer-body:enabled")
    # alice removes him: his page of the room closes, saying why; his list drops it.
    alice.click('#members li:has-text("bob") button:has-text("Remove")')
    alice.locator("#members li", has_text="bob").wait_for(state="detached")
    bob.locator("#room-closed", has_text="You are no longer a member of this room.").wait_for()
    assert not bob.locator("#messages").is_visible()
    assert not bob.locator("#composer-body").is_visible()
    bobs_other_tab.locator(f'[data-room="{room.slug}"]').wait_for(state="detached")
    shot(bob, "private-room-removed")
    assert not off_loop(lambda: Membership.objects.filter(room=room, user__username="bob").exists())
    # The room is not there for him any more: as if it never was.
    reply = bob.goto(f"{server.url}/chat/{room.slug}/")
    assert reply is not None
    assert reply.status == 404
