"""What a person sees in a room, in Chromium: places kept while scrolling, the new-messages
pill, the unread divider, edits and reactions live in a second page, links and mentions,
and a composer that never throws text away."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chat import services
from chat.models import Message, Mute, ReadState, Room
from tests.conftest import Daphne
from tests.e2e.conftest import log_in, off_loop, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_room(browser: Any, server: Daphne, username: str, room: Room) -> Any:
    return log_in(browser, server.url, username, f"/chat/{room.slug}/")


def post_many(room: Room, author: Any, count: int, prefix: str = "m") -> list[Message]:
    return off_loop(
        lambda: [
            services.message_post(room=room, author=author, body=f"{prefix}{i}")
            for i in range(count)
        ]
    )


def post(room: Room, author: Any, body: str) -> Message:
    return off_loop(lambda: services.message_post(room=room, author=author, body=body))


def scroll_gap(page: Any) -> float:
    """How far the list is from its bottom, in pixels."""
    return page.evaluate(
        "() => { const l = document.getElementById('messages');"
        " return l.scrollHeight - l.scrollTop - l.clientHeight; }"
    )


def test_load_older_keeps_the_place_and_the_pill_counts_new_messages(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    room = make_room()
    post_many(room, bob, 120)
    page = open_room(browser, daphne_server, "alice", room)
    page.locator("#m" + str(Message.objects.filter(room=room).last().pk)).wait_for()
    assert page.locator("#messages .message").count() == 50
    # Scroll to the top: older messages load, and the first message shown before stays
    # in view, at the same place. (The button: tests/e2e/test_chat_first_minutes.py.)
    page.evaluate("document.getElementById('messages').scrollTop = 0")
    first = page.locator("#messages .message").first
    first_id = first.get_attribute("data-id")
    before = first.locator(".body").bounding_box()["y"]
    page.wait_for_function("document.querySelectorAll('#messages .message').length === 100")
    after = page.locator(f"#m{first_id} .body").bounding_box()["y"]
    assert abs(after - before) < 2
    # Scrolled up, new messages do not move the view: a pill counts them.
    post(room, bob, "new one")
    post(room, bob, "new two")
    page.locator("#new-pill", has_text="2 new messages").wait_for()
    assert page.locator(f"#m{first_id} .body").bounding_box()["y"] == pytest.approx(after, abs=2)
    page.click("#new-pill")
    page.wait_for_function("document.getElementById('new-pill').hidden")
    assert scroll_gap(page) < 5
    # Every message of the room: at the top, the beginning of the room is marked.
    page.evaluate("document.getElementById('messages').scrollTop = 0")
    page.locator("#room-start").wait_for()
    assert "beginning of" in page.locator("#room-start").inner_text()
    assert not alice.is_staff


def test_opening_a_room_goes_to_the_first_unread_under_a_new_divider(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    room = make_room()
    read = post_many(room, bob, 30, "read")
    ReadState.objects.create(user=alice, room=room, last_read_id=read[-1].pk)
    unread = post_many(room, bob, 70, "unread")  # beyond the first page of 50
    page = open_room(browser, daphne_server, "alice", room)
    divider = page.locator("#new-divider")
    divider.wait_for()
    # The divider sits right before the first unread message, which is in view.
    following = page.evaluate(
        "document.getElementById('new-divider').nextElementSibling.dataset.id"
    )
    assert int(following) == unread[0].pk
    assert page.locator(f"#m{unread[0].pk}").is_visible()
    assert scroll_gap(page) > 100  # not thrown to the bottom
    # The tab title counts what is unread; reading to the bottom clears it and the
    # room list of another tab hears it.
    assert page.title().startswith("(")
    lobby = page.context.new_page()
    lobby.goto(f"{daphne_server.url}/chat/")
    card = lobby.locator(f"[data-room='{room.slug}'] [data-room-unread]")
    card.wait_for()
    page.evaluate(
        "() => { const l = document.getElementById('messages'); l.scrollTop = l.scrollHeight; }"
    )
    page.wait_for_function("!document.title.startsWith('(')")
    lobby.wait_for_function(
        f"document.querySelector(\"[data-room='{room.slug}'] [data-room-unread]\").hidden"
    )
    state = ReadState.objects.get(user=alice, room=room)
    assert state.last_read_id == unread[-1].pk
    # A mention in a room counts live on the list.
    post(room, bob, "@alice look")
    lobby.locator(f"[data-room='{room.slug}'] [data-room-mentions]", has_text="@1").wait_for()
    shot(lobby, "chat-room-list-unread")


def test_an_edit_a_deletion_and_reactions_show_live_in_a_second_page(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice"), make_user("bob")
    room = make_room()
    alice = open_room(browser, daphne_server, "alice", room)
    bob = open_room(browser, daphne_server, "bob", room)
    # "@bo" offers bob (online in her page): Enter takes the offer, the next one sends.
    # (Waiting for the offer: an Enter racing it would send or complete by chance.)
    alice.locator("#online li", has_text="bob").wait_for()
    alice.fill("#composer-body", "see https://example.org/a_(b). and @bo")
    alice.locator("#mention-list [role=option]", has_text="@bob").wait_for()
    alice.keyboard.press("Enter")
    assert alice.input_value("#composer-body") == "see https://example.org/a_(b). and @bob "
    alice.keyboard.press("Enter")
    message = bob.locator("#messages .message", has_text="see")
    message.wait_for()
    # Links are real anchors, safe ones; the mention of the viewer stands out.
    link = message.locator(".body a")
    assert link.get_attribute("href") == "https://example.org/a_(b)"
    assert link.get_attribute("rel") == "noopener nofollow ugc"
    assert message.locator(".mention.me").inner_text() == "@bob"
    assert message.locator(".body").get_attribute("dir") == "auto"
    # Alice edits: Bob sees the new text and "(edited)".
    mine = alice.locator("#messages .message", has_text="see")
    mine.hover()
    mine.get_by_role("button", name="Edit").click()
    alice.fill(".edit-form textarea", "see https://example.org/ and @bob, edited")
    alice.keyboard.press("Enter")
    bob.locator("#messages .message .body", has_text="edited").wait_for()
    assert message.locator(".edited").inner_text() == "(edited)"
    # Reactions toggle in both pages.
    message.hover()
    message.get_by_role("button", name="React").click()
    bob.get_by_role("button", name="React with 👍").click()
    chip = mine.locator(".reaction", has_text="👍 1")
    chip.wait_for()
    assert "bob" in chip.get_attribute("title")
    mine.locator(".reaction").click()  # Alice adds hers to the same emoji
    message.locator(".reaction", has_text="👍 2").wait_for()
    # On her own page the chip shows as pressed: one of the two is hers.
    mine.locator(".reaction[aria-pressed=true]", has_text="👍 2").wait_for()
    message.locator(".reaction").click()  # Bob takes his back
    mine.locator(".reaction", has_text="👍 1").wait_for()
    shot(bob, "chat-room-edit-reactions")
    # Alice deletes it: gone from Bob's page.
    mine.hover()
    mine.get_by_role("button", name="Delete").click()
    mine.locator(".confirm").get_by_role("button", name="Delete").click()
    message.wait_for(state="detached")


def test_the_composer_keeps_text_it_could_not_send(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice")
    make_user("bob")
    room = make_room()
    page = open_room(browser, daphne_server, "alice", room)
    # An empty room says what to do.
    page.locator("#room-empty", has_text="No messages yet: say hello below").wait_for()
    # Too long: a counter says by how much and nothing is cut or sent.
    page.fill("#composer-body", "x" * 2005)
    assert page.input_value("#composer-body") == "x" * 2005
    page.locator("#composer-count", has_text="5 characters over").wait_for()
    assert page.locator("#composer-send").is_disabled()
    assert page.get_attribute("#composer-body", "aria-invalid") == "true"
    page.fill("#composer-body", "x" * 1900)
    page.locator("#composer-count", has_text="1,900 / 2,000").wait_for()
    # Muted by staff meanwhile: the refused text stays, in plain words.
    page.fill("#composer-body", "my careful reply")
    off_loop(lambda: services.user_mute(room=room, user=alice))  # reaches the open page live
    page.wait_for_selector("#composer-body:disabled")
    assert page.input_value("#composer-body") == "my careful reply"
    assert "muted" in page.inner_text("#composer-status")
    off_loop(lambda: services.user_unmute(room=room, user=alice))
    page.wait_for_selector("#composer-body:enabled")
    # Refused by the server (a mute the page has not heard of): the text stays.
    Mute.objects.create(room=room, user=alice)
    page.press("#composer-body", "Enter")
    muted = "You are muted in this room. Your text is still here."
    page.locator("#composer-status", has_text=muted).wait_for()
    assert page.input_value("#composer-body") == "my careful reply"
    Mute.objects.filter(room=room, user=alice).delete()
    page.fill("#composer-body", "")
    # The server is unreachable: the text waits and goes when the socket is back.
    page.context.set_offline(True)
    page.evaluate("() => window.dispatchEvent(new Event('offline'))")
    page.fill("#composer-body", "sent after the outage")
    page.press("#composer-body", "Enter")
    page.locator("#composer-status", has_text="will be sent when the connection is back").wait_for()
    assert page.input_value("#composer-body") == "sent after the outage"
    page.context.set_offline(False)
    page.locator("#messages .message .body", has_text="sent after the outage").wait_for(
        timeout=30_000
    )
    page.wait_for_function("document.getElementById('composer-body').value === ''")
    assert Message.objects.filter(room=room, body="sent after the outage").count() == 1


def test_a_link_to_a_deleted_message_says_it_is_gone_and_search_finds_in_context(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    bob = make_user("bob")
    room = make_room()
    old = post_many(room, bob, 80)
    post(room, bob, "the quarterly roadmap")
    gone = old[3]
    off_loop(lambda: services.message_delete(messages=[gone]))
    post_many(room, bob, 60, "later")
    page = log_in(browser, daphne_server.url, "alice", "/chat/")
    page.goto(f"{daphne_server.url}/chat/{room.slug}/#m{gone.pk}")
    page.locator("#context-note", has_text="no longer here").wait_for()
    # Search across rooms finds the message; its link shows it in context, highlighted.
    page.goto(f"{daphne_server.url}/chat/search/?q=quarterly+road")
    result = page.locator(".search-result a", has_text="quarterly")
    result.wait_for()
    assert page.locator(".search-result mark").first.inner_text().lower() == "quarterly"
    shot(page, "chat-search")
    result.click()
    target = page.locator(".message.highlight", has_text="the quarterly roadmap")
    target.wait_for()
    assert target.is_visible()
    page.locator("#load-newer").wait_for()
    page.click("#jump-latest")
    page.locator("#messages .message .body", has_text="later59").wait_for()
    # A link followed inside the open room (a mention's toast) works the same.
    page.evaluate(f"location.hash = '#m{gone.pk}'")
    page.locator("#context-note", has_text="no longer here").wait_for()


def test_days_times_groups_and_mention_suggestions(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice"), make_user("bob"), make_user("bobby")
    bob = make_user("bert")
    room = make_room()
    old = post_many(room, bob, 2, "three days ago ")
    Message.objects.filter(pk__in=[m.pk for m in old]).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    post_many(room, bob, 2, "today ")
    page = open_room(browser, daphne_server, "alice", room)
    page.locator("#messages .message").nth(3).wait_for()
    separators = page.locator(".day-separator").all_inner_texts()
    assert len(separators) == 2
    assert separators[-1] == "Today"
    assert separators[0] not in ("Today", "Yesterday")  # a date, in the viewer's locale
    # Each time carries the full date: on hover (title) and for screen readers.
    time_el = page.locator(f"#m{old[0].pk} time")
    assert time_el.get_attribute("datetime").startswith(str(old[0].created_at.year))
    assert time_el.get_attribute("title")
    assert time_el.locator(".visually-hidden").inner_text() == time_el.get_attribute("title")
    # One author's messages in a row are grouped; a new day starts a new group.
    grouped = page.evaluate(
        "[...document.querySelectorAll('#messages .message')]"
        ".map(li => li.classList.contains('grouped'))"
    )
    assert grouped == [False, True, False, True]
    # Typing "@b" offers names from the room; arrows and Enter pick one.
    page.click("#composer-body")
    page.keyboard.type("hi @b")
    options = page.locator("#mention-list [role=option]")
    options.first.wait_for()
    assert options.all_inner_texts() == ["@bert"]
    page.keyboard.press("Enter")
    assert page.input_value("#composer-body") == "hi @bert "
    assert page.locator("#mention-list").is_hidden()
    shot(page, "chat-room-days")
