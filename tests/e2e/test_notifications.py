"""Notifications in real browsers: toasts and badge from manage.py, catch-up after an
outage, mark-all-read in one tab clearing the badge in another."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from chat import services
from chat.models import Message
from tests.conftest import Daphne, manage, own_daphne
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    yield from own_daphne(tmp_path)  # its own: one test stops and restarts it


def notify(*args: str) -> None:
    manage("send_notification", *args)


def off_the_loop(work: Callable[[], Any]) -> None:
    """A service call from a thread of its own: Playwright's sync API holds an event loop
    in this one, and a broadcast after commit cannot run under it."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def badge(page: Any) -> str:
    return page.locator("#notify-badge").get_attribute("data-count") or ""


def wait_badge(page: Any, count: int) -> None:
    page.wait_for_function(f"document.getElementById('notify-badge').dataset.count === '{count}'")


def test_command_shows_a_toast_and_badge_and_an_outage_loses_nothing(
    browser: Any, server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    alice = log_in(browser, server.url, "alice", "/chat/")
    visitor = browser.new_context().new_page()
    visitor.goto(f"{server.url}/chat/")
    visitor.wait_for_selector("[data-live-state=connected]")
    assert badge(alice) == "0"
    assert alice.locator("#notify-badge").is_hidden()

    notify(
        "--user",
        "alice",
        "--title",
        XSS,
        "--body",
        "body text",
        "--level",
        "warning",
        "--link",
        "/chat/",
    )
    toast = alice.locator(".toast.level-warning")
    toast.wait_for()
    assert toast.locator(".title").text_content() == XSS  # shown as text
    assert alice.locator(".toast img").count() == 0
    wait_badge(alice, 1)
    assert alice.locator("#notify-badge").text_content() == "1"
    assert alice.title().startswith("(1) ")
    # The visitor is not alice; announcements to everyone reach visitors too.
    notify("--everyone", "--title", "Site news")
    visitor.locator(".toast", has_text="Site news").wait_for()
    alice.locator(".toast", has_text="Site news").wait_for()
    assert visitor.locator(".toast", has_text="body text").count() == 0
    wait_badge(alice, 2)

    # The server goes away; two notifications are sent meanwhile.
    server.stop()
    alice.wait_for_selector("[data-live-state=reconnecting]")
    notify("--user", "alice", "--title", "while away 1")
    notify("--user", "alice", "--title", "while away 2")
    server.start()
    alice.wait_for_selector("[data-live-state=connected]", timeout=30_000)
    alice.locator(".toast", has_text="while away 2").wait_for()
    wait_badge(alice, 4)
    assert alice.locator(".toast", has_text="while away 1").count() == 1
    assert alice.locator(".toast", has_text="while away 2").count() == 1
    notify_sockets = [url for url in alice.socket_urls if "/ws/notifications/" in url]
    assert "?after_id=" in notify_sockets[-1]

    # Following a toast's link marks that notification read on the way. (A fresh one:
    # the earlier toasts may have timed out during the outage.)
    notify("--user", "alice", "--title", "Open me", "--link", "/chat/")
    wait_badge(alice, 5)
    alice.locator(".toast", has_text="Open me").locator(".title").click()
    alice.wait_for_url("**/chat/")
    alice.wait_for_selector("[data-live-state=connected]")
    wait_badge(alice, 4)
    assert alice.dialogs == []


def test_mark_all_read_in_one_tab_clears_the_badge_in_another(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("bob")
    inbox = log_in(browser, daphne_server.url, "bob", "/notifications/")
    other = log_in(browser, daphne_server.url, "bob", "/chat/", context=inbox.context)
    notify("--user", "bob", "--title", "first")
    notify("--user", "bob", "--title", "second", "--level", "success")
    for page in (inbox, other):
        wait_badge(page, 2)
    # The inbox page adds them live, newest first, unread.
    inbox.locator("#inbox .inbox-item.unread", has_text="first").wait_for()
    titles = inbox.locator("#inbox .inbox-item .title").all_text_contents()
    assert titles == ["second", "first"]

    inbox.click("#mark-all-read button")
    wait_badge(other, 0)
    assert other.locator("#notify-badge").is_hidden()
    wait_badge(inbox, 0)
    assert inbox.locator("#inbox .inbox-item.unread").count() == 0
    assert inbox.locator("#inbox-unread").text_content() == "0"
    # Over the socket: no page load happened.
    assert inbox.url.endswith("/notifications/")
    inbox.reload()
    assert inbox.locator("#inbox .inbox-item.unread").count() == 0


def test_repeated_mentions_fold_into_one_toast_and_one_inbox_item(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any], make_room: Any
) -> None:
    make_user("target")
    make_user("chatty")
    room = make_room(title="Lobby")
    page = log_in(browser, daphne_server.url, "target", "/notifications/")
    for i in range(1, 4):
        manage("post_message", room.slug, "--user", "chatty", "--body", f"@target ping {i}")
        title = (
            "chatty mentioned you in Lobby"
            if i == 1
            else f"chatty mentioned you {i} times in Lobby"
        )
        page.wait_for_function(
            "t => [...document.querySelectorAll('#toasts .toast .title')]"
            ".some(el => el.textContent === t)",
            arg=title,
        )
    # One toast, one inbox item, one unread: the repeats updated them in place.
    assert page.locator("#toasts .toast").count() == 1
    assert page.locator("#toasts .toast .body").inner_text() == "@target ping 3"
    assert page.locator("#inbox .inbox-item").count() == 1
    assert (
        page.locator("#inbox .inbox-item .title").inner_text()
        == "chatty mentioned you 3 times in Lobby"
    )
    assert badge(page) == "1"
    page.context.close()


def test_a_mention_whose_message_is_edited_or_deleted_changes_quietly(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any], make_room: Any
) -> None:
    """The inbox item and the toast still showing it take the message's new text, then
    say it was deleted: no toast again, no second unread."""
    make_user("target")
    chatty = make_user("chatty")
    room = make_room(title="Lobby")
    page = log_in(browser, daphne_server.url, "target", "/notifications/")
    manage("post_message", room.slug, "--user", "chatty", "--body", "@target the code is 1234")
    page.locator("#inbox .inbox-item .body", has_text="the code is 1234").wait_for()
    message = Message.objects.get(room=room)
    off_the_loop(
        lambda: services.message_edit(
            room=room, user=chatty, message_id=message.pk, body="@target ask me"
        )
    )
    page.locator("#inbox .inbox-item .body", has_text="ask me").wait_for()
    assert page.locator("#toasts .toast .body").inner_text() == "@target ask me"
    page.click("#toasts .toast .close")  # dismissed: the deletion brings no toast back
    off_the_loop(lambda: services.message_delete_own(room=room, user=chatty, message_id=message.pk))
    page.locator("#inbox .inbox-item .body", has_text=services.MENTION_DELETED).wait_for()
    assert page.locator("#toasts .toast").count() == 0
    assert page.locator("#inbox .inbox-item").count() == 1
    assert page.locator("#inbox .inbox-item.unread").count() == 1
    assert badge(page) == "1"
    assert "1234" not in page.content()
    page.context.close()
