"""What a person meets in a room in the first five minutes, in Chromium: older messages
that load as they scroll up, refusals in plain words, a phone header of one line and a
touch keyboard's Enter, a reconnect with "Retry now" and a greyed online list, Up to
edit, arrow keys in the reaction picker, www. links, the room list's dots and joins."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chat import services
from chat.models import Message, ReadState, Room
from game.services import game_create
from tests.conftest import Daphne, own_daphne
from tests.e2e.conftest import log_in, off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def limited_daphne(tmp_path: Path) -> Iterator[Daphne]:
    """A daphne of this test's own, with a small write limit; a test stops and restarts it."""
    # Two posts (and the typing signals before them, 0.2 each) and no more.
    limits = {"CHAT_POST_BURST": "3", "CHAT_POST_RATE_PER_SECOND": "0.01"}
    yield from own_daphne(tmp_path, env=limits)


def post(room: Room, author: Any, body: str) -> Message:
    return off_loop(lambda: services.message_post(room=room, author=author, body=body))


def send(page: Any, text: str) -> None:
    page.fill("#composer-body", text)
    page.press("#composer-body", "Enter")


def message_count(page: Any) -> int:
    return int(page.locator("#messages .message").count())


def test_scrolling_near_the_top_loads_older_messages_in_place(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    bob = make_user("bob")
    room = make_room()
    off_loop(
        lambda: [services.message_post(room=room, author=bob, body=f"m{i}") for i in range(120)]
    )
    page = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    page.wait_for_function("document.querySelectorAll('#messages .message').length === 50")
    first = page.locator("#messages .message").first.get_attribute("data-id")
    # The reader scrolls up with the wheel; no button is pressed.
    page.hover("#messages")
    while page.evaluate("document.getElementById('messages').scrollTop") > 0:
        page.mouse.wheel(0, -1500)
        page.wait_for_timeout(50)
    before = page.locator(f"#m{first} .body").bounding_box()["y"]
    page.wait_for_function("document.querySelectorAll('#messages .message').length >= 100")
    assert not page.locator("#load-older").evaluate("(b) => b === document.activeElement")
    # The message the reader was at stays where it was.
    after = page.locator(f"#m{first} .body").bounding_box()["y"]
    assert abs(after - before) < 4
    # The button stays, for keyboards: it loads the rest.
    page.focus("#load-older")
    page.keyboard.press("Enter")
    page.locator("#room-start").wait_for()
    assert message_count(page) == 120


def test_refusals_read_as_plain_sentences(
    browser: Any,
    limited_daphne: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice")
    room = make_room()
    page = log_in(browser, limited_daphne.url, "alice", f"/chat/{room.slug}/")
    # Over the per-account limit: the words say what happened and when to try again, and
    # the text stays in the box.
    for text in ("one", "two"):
        send(page, text)
        page.locator("#messages .message .body", has_text=text).wait_for()
        page.wait_for_function("document.getElementById('composer-body').value === ''")
    send(page, "three")
    status = page.locator("#composer-status")
    status.wait_for()
    page.wait_for_function("document.getElementById('composer-status').textContent !== 'Sending…'")
    assert re.fullmatch(
        r"You're sending messages too fast\. Try again in \d+ seconds?\. Your text is still here\.",
        status.inner_text(),
    ), status.inner_text()
    assert page.input_value("#composer-body") == "three"
    # A game invitation to a name nobody has: what to do about it.
    game = off_loop(lambda: game_create(user=alice))
    game_page = page.context.new_page()
    game_page.goto(f"{limited_daphne.url}/game/{game.pk}/")
    game_page.wait_for_selector("[data-live-state=connected]")
    game_page.fill("#invite-name", "nosuchuser")
    game_page.press("#invite-name", "Enter")
    game_page.get_by_text(
        "There is no player called nosuchuser. Check the spelling of the name."
    ).wait_for()
    game_page.close()
    # Disconnected, a reaction cannot go: one sentence, one full stop.
    page.locator("#messages .message").first.hover()
    limited_daphne.stop()
    page.wait_for_selector("[data-live-state=reconnecting]")
    page.locator("#messages .message .actions button", has_text="React").first.click()
    page.locator(".picker button").first.click()
    error = page.locator("#chat-error")
    error.wait_for()
    assert error.inner_text() == "Not connected. Try again when the connection is back."


def test_a_phone_shows_the_room_under_one_header_line(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    room = make_room(
        title="Product design reviews",
        description="Weekly reviews of what we ship, with screenshots and notes. " * 3,
        retention=500,
    )
    page = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/", viewport=PHONE)
    head = page.locator(".room-head").bounding_box()
    assert head["height"] < 56, head  # one line: the title, About and Online
    assert not page.locator("#room-search-q").is_visible()
    assert not page.locator(".room-description").is_visible()
    about = page.get_by_role("button", name="About")
    assert about.get_attribute("aria-expanded") == "false"
    about.click()
    assert about.get_attribute("aria-expanded") == "true"
    assert page.locator("#room-search-q").is_visible()
    assert page.locator(".room-description").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#room-search-q").is_visible()
    # On a wide screen, all of it shows as before.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.locator("#room-search-q").is_visible()
    assert page.locator(".room-description").is_visible()
    assert not about.is_visible()


def test_enter_on_a_touch_keyboard_adds_a_line_and_send_sends(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    room = make_room()
    page = log_in(
        browser,
        daphne_server.url,
        "alice",
        f"/chat/{room.slug}/",
        viewport=PHONE,
        has_touch=True,
        is_mobile=True,
    )
    page.tap("#composer-body")
    page.keyboard.type("first line")
    page.keyboard.press("Enter")
    page.keyboard.type("second line")
    assert page.input_value("#composer-body") == "first line\nsecond line"
    page.wait_for_timeout(300)  # had Enter sent it, it would be on its way
    assert message_count(page) == 0
    page.tap("#composer-send")
    page.locator("#messages .message .body", has_text="second line").wait_for()
    assert page.input_value("#composer-body") == ""


def test_while_disconnected_the_online_list_is_greyed_and_retry_now_reconnects(
    browser: Any,
    limited_daphne: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    make_user("bob")
    room = make_room()
    path = f"/chat/{room.slug}/"
    # Every wait for the next attempt as long as the back-off allows: only "Retry now"
    # brings the page back soon.
    slow = "Math.random = () => 0.999;"
    page = log_in(browser, limited_daphne.url, "alice", path, init_script=slow)
    other = log_in(browser, limited_daphne.url, "bob", path)
    page.locator("#online li", has_text="bob").wait_for()
    retry = page.get_by_role("button", name="Retry now")
    assert not retry.is_visible()
    assert not page.locator("#people.stale").count()
    limited_daphne.stop()
    page.wait_for_selector("[data-live-state=reconnecting]")
    page.locator("#people.stale").wait_for(state="attached")
    assert page.locator("#online-stale").inner_text() == (
        "Reconnecting: who is online may have changed."
    )
    retry.wait_for()
    other.close()
    limited_daphne.start()
    retry.click()
    page.wait_for_selector("[data-live-state=connected]")
    page.wait_for_function("!document.getElementById('people').classList.contains('stale')")
    assert not retry.is_visible()
    # What the list shows is what is true now: bob left while the page was away.
    page.wait_for_function(
        "![...document.querySelectorAll('#online li')].some((li) => li.textContent === 'bob')"
    )


def test_up_in_the_empty_composer_edits_the_last_message(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    bob = make_user("bob")
    room = make_room()
    page = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    send(page, "my first")
    # Stored (the box empties on the server's answer: an Enter while one is on its way
    # sends nothing, and keeps the text).
    page.wait_for_function("document.getElementById('composer-body').value === ''")
    send(page, "my second")
    page.locator("#messages .message .body", has_text="my second").wait_for()
    post(room, bob, "bob after")  # not hers: Up skips it
    page.locator("#messages .message .body", has_text="bob after").wait_for()
    page.focus("#composer-body")
    page.keyboard.press("ArrowUp")
    editor = page.locator(".edit-form textarea")
    editor.wait_for()
    assert editor.input_value() == "my second"
    assert editor.evaluate("(area) => area === document.activeElement")
    page.keyboard.press("End")
    page.keyboard.type(", edited")
    page.keyboard.press("Enter")
    page.locator("#messages .message .body", has_text="my second, edited").wait_for()
    # Back where the person was typing.
    page.wait_for_function("document.activeElement.id === 'composer-body'")
    # Up with text in the box moves the caret, as always: no edit opens.
    page.keyboard.type("draft")
    page.keyboard.press("ArrowUp")
    assert page.locator(".edit-form").count() == 0


def test_the_reaction_picker_works_with_arrow_keys(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    bob = make_user("bob")
    room = make_room()
    message = post(room, bob, "react to me")
    page = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    react = page.locator(f"#m{message.pk} .actions button", has_text="React")
    react.focus()
    page.keyboard.press("Enter")
    picker = page.get_by_role("toolbar", name="Reactions")
    picker.wait_for()
    choices = picker.get_by_role("button")
    labels = [choices.nth(i).get_attribute("aria-label") for i in range(choices.count())]
    focused = "() => document.activeElement.getAttribute('aria-label')"
    assert page.evaluate(focused) == labels[0]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == labels[1]
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(focused) == labels[-1]  # wraps round
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    emoji = labels[1].removeprefix("React with ")
    page.locator(f"#m{message.pk} .reaction[data-emoji='{emoji}']").wait_for()


def test_www_addresses_become_links(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    room = make_room()
    page = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    send(page, "see www.example.org, then reply")
    link = page.locator("#messages .message .body a", has_text="www.example.org")
    link.wait_for()
    assert link.get_attribute("href") == "https://www.example.org/"


def test_the_room_list_marks_empty_rooms_and_joins_rooms_not_yet_opened(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice")
    bob = make_user("bob")
    quiet = make_room(title="Quiet corner")
    busy = make_room(title="Busy hall")
    page = log_in(browser, daphne_server.url, "alice", "/chat/")
    # No green dot beside "0 online".
    presence = page.locator(f"[data-room='{quiet.slug}'] [data-room-presence]")
    page.wait_for_function(
        f"document.querySelector(\"[data-room-online='{quiet.slug}']\").textContent === '0'"
    )
    assert "nobody" in presence.get_attribute("class")
    dot = presence.locator(".dot").evaluate("(dot) => getComputedStyle(dot).backgroundColor")
    assert dot == "rgba(0, 0, 0, 0)"
    # bob in the busy hall: its dot is green.
    room_page = log_in(browser, daphne_server.url, "bob", f"/chat/{busy.slug}/")
    busy_presence = page.locator(f"[data-room='{busy.slug}'] [data-room-presence]")
    page.wait_for_function(
        f"document.querySelector(\"[data-room-online='{busy.slug}']\").textContent === '1'"
    )
    assert "nobody" not in busy_presence.get_attribute("class")
    # A room alice never opened offers "Join"; joined in one tab, both tabs count.
    other_tab = page.context.new_page()
    other_tab.goto(f"{daphne_server.url}/chat/")
    other_tab.wait_for_selector("[data-live-state=connected]")
    join = page.locator(f"[data-room='{busy.slug}'] [data-room-join]")
    join.wait_for()
    join.get_by_role("button").click()
    join.wait_for(state="hidden")
    other_tab.locator(f"[data-room='{busy.slug}'] [data-room-join]").wait_for(state="hidden")
    assert ReadState.objects.filter(user=alice, room=busy).exists()
    # The trailing space closes the "@" offer: an Enter racing it would complete, not send.
    room_page.fill("#composer-body", "hello @alice ")
    room_page.press("#composer-body", "Enter")
    for tab in (page, other_tab):
        unread = tab.locator(f"[data-room='{busy.slug}'] [data-room-unread]")
        unread.wait_for()
        assert unread.inner_text() == "1"
        tab.locator(f"[data-room='{busy.slug}'] [data-room-mentions]", has_text="@1").wait_for()
    assert bob.username == "bob"
