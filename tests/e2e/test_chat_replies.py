"""Replies in Chromium: Bob replies to Alice's old message from a link to it, both pages
show the quote, the quote shows its original in context, and the original's edit and
deletion reach the quote on pages that do not show the original."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chat import services
from chat.models import Message, Room
from tests.conftest import Daphne
from tests.e2e.conftest import log_in, off_loop, shot
from tests.e2e.test_site import axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The page's sockets, kept for the test: roomSocket() is the room's newest.
KEEP = """(() => {
    const Native = window.WebSocket;
    const opened = [];
    window.WebSocket = function (url) {
        const ws = new Native(url);
        opened.push(ws);
        return ws;
    };
    Object.assign(window.WebSocket, Native);
    window.WebSocket.prototype = Native.prototype;
    window.roomSocket = () => opened.filter((ws) => ws.url.includes("/ws/chat/")).at(-1);
})()"""


def quote_of(page: Any, reply_id: int) -> Any:
    return page.locator(f"#m{reply_id} .reply-quote")


def test_a_reply_quotes_its_original_jumps_to_it_and_follows_its_edit_and_deletion(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice")
    make_user("bob")
    room = make_room()
    original = off_loop(
        lambda: services.message_post(
            room=room, author=alice, body="Lunch at noon?\nThe usual place."
        )
    )
    # More than a page after it: the original is not on a page opened at the latest.
    off_loop(
        lambda: [
            services.message_post(room=room, author=alice, body=f"later {i}") for i in range(60)
        ]
    )
    path = f"/chat/{room.slug}/"
    a = log_in(browser, daphne_server.url, "alice", path)
    b = log_in(browser, daphne_server.url, "bob", path)
    b.goto(f"{daphne_server.url}{path}#m{original.pk}")  # as from a search result
    assert a.locator(f"#m{original.pk}").count() == 0

    # Bob, at the original (a link to it), replies by keyboard; Escape drops the reply.
    b.locator(f"#m{original.pk}.highlight").wait_for()
    reply_button = b.locator(f"#m{original.pk} .actions button", has_text="Reply")
    reply_button.focus()
    b.keyboard.press("Enter")
    bar = b.locator("#reply-bar")
    bar.wait_for()
    assert bar.inner_text().startswith("Replying to alice: Lunch at noon?")
    assert "The usual place" not in bar.inner_text()
    assert b.evaluate("document.activeElement.id") == "composer-body"
    b.keyboard.press("Escape")
    bar.wait_for(state="hidden")
    reply_button.focus()
    b.keyboard.press("Enter")
    bar.wait_for()
    shot(b, "reply-bar")
    assert axe_problems(b, "the quote bar") == []
    b.fill("#composer-body", "Yes, see you there")
    b.keyboard.press("Enter")
    bar.wait_for(state="hidden")
    reply = Message.objects.get(room=room, body="Yes, see you there")
    assert reply.reply_to_id == original.pk

    # Alice's page (at the latest) shows the reply and its quote, live.
    quote = quote_of(a, reply.pk)
    quote.wait_for()
    assert quote.locator(".reply-author").inner_text() == "alice"
    assert quote.locator(".reply-text").inner_text() == "Lunch at noon?"
    assert quote.get_attribute("href") == f"#m{original.pk}"
    shot(a, "reply-quote")
    assert axe_problems(a, "a reply") == []

    # Bob goes back to the latest: his reply is there with its quote.
    b.click("#context-note button")
    quote_of(b, reply.pk).wait_for()

    # Alice follows the quote: the original is loaded in context and highlighted.
    quote.click()
    a.locator(f"#m{original.pk}.highlight").wait_for()
    assert a.evaluate("document.activeElement.id") == f"m{original.pk}"
    assert a.locator(f"#m{reply.pk}").count() == 0
    assert a.locator("#context-note").is_visible()

    # She edits it there: Bob's page, which shows the reply and not the original, quotes
    # the new first line.
    a.locator(f"#m{original.pk}").hover()
    a.locator(f"#m{original.pk} .actions button", has_text="Edit").click()
    a.fill(f"#edit-{original.pk}", "Lunch at one instead?\nSame place.")
    a.keyboard.press("Enter")
    b.locator(f"#m{reply.pk} .reply-text", has_text="Lunch at one instead?").wait_for()
    assert b.locator(f"#m{original.pk}").count() == 0

    # Back at the latest, her page reads the reply with the quote as it is now.
    a.click("#context-note button")
    quote_of(a, reply.pk).filter(has_text="Lunch at one instead?").wait_for()

    # Deleted (from the quote's context): both pages say the original was deleted.
    quote_of(a, reply.pk).click()
    a.locator(f"#m{original.pk}.highlight").hover()
    a.locator(f"#m{original.pk} .actions button", has_text="Delete").click()
    a.locator(f"#m{original.pk} .confirm button", has_text="Delete").click()
    a.locator(f"#m{original.pk}").wait_for(state="detached")
    deleted = b.locator(f"#m{reply.pk} .reply-quote.deleted")
    deleted.wait_for()
    assert deleted.inner_text() == "In reply to a deleted message."
    a.click("#jump-latest")
    quote_of(a, reply.pk).filter(has_text="deleted message").wait_for()
    a.context.close()
    b.context.close()


def test_a_page_that_missed_its_originals_edit_and_deletion_gets_them_on_resume(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    room = make_room(retention=0)

    def setup() -> tuple[Message, Message, Message, Message]:
        kept = services.message_post(room=room, author=alice, body="Tea or coffee?")
        gone = services.message_post(room=room, author=alice, body="Anyone up?")
        for i in range(60):  # the originals are not on the page
            services.message_post(room=room, author=alice, body=f"later {i}")
        return (
            kept,
            gone,
            services.message_post(room=room, author=bob, body="Tea", reply_to=kept.pk),
            services.message_post(room=room, author=bob, body="Me", reply_to=gone.pk),
        )

    kept, gone, to_kept, to_gone = off_loop(setup)
    page = log_in(browser, daphne_server.url, "bob", f"/chat/{room.slug}/", init_script=KEEP)
    quote_of(page, to_gone.pk).wait_for()
    # The page stops hearing its socket: the edit and the deletion happen while it is away.
    page.evaluate("() => { window.roomSocket().onmessage = () => {}; }")

    def while_away() -> None:
        services.message_edit(
            room=room, user=alice, message_id=kept.pk, body="Tea, coffee or juice?"
        )
        services.message_delete_own(room=room, user=alice, message_id=gone.pk)

    off_loop(while_away)
    page.evaluate("() => window.roomSocket().close()")
    page.locator(f"#m{to_kept.pk} .reply-text", has_text="Tea, coffee or juice?").wait_for()
    page.locator(f"#m{to_gone.pk} .reply-quote.deleted").wait_for()
    assert page.socket_urls[-1].endswith(f"?after_id={to_gone.seq}")
    assert page.locator(f"#m{kept.pk}").count() == 0
    page.context.close()
