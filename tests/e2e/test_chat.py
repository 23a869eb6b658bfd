"""Two people chat in real browsers; XSS shows as text; a dropped server is survived."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chat.models import Message, Room
from tests.conftest import Daphne, manage, own_daphne
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    # Its own process: the reconnect test stops and restarts it.
    yield from own_daphne(tmp_path, env={"CHAT_TYPING_TIMEOUT_SECONDS": "1"})


def open_room(browser: Any, server: Daphne, username: str, room: Room) -> Any:
    return log_in(browser, server.url, username, f"/chat/{room.slug}/")


def send(page: Any, text: str) -> None:
    page.fill("#composer-body", text)
    page.keyboard.press("Enter")


def bodies(page: Any) -> list[str]:
    return page.locator("#messages .message .body").all_text_contents()


def wait_for_body(page: Any, text: str) -> None:
    page.locator("#messages .message .body", has_text=text).first.wait_for()


def test_two_users_chat_live_and_survive_a_server_restart(
    browser: Any,
    server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    make_user("bob")
    room = make_room(retention=0)
    alice = open_room(browser, server, "alice", room)
    bob = open_room(browser, server, "bob", room)

    # Presence: each sees the other online.
    bob.locator("#online li", has_text="alice").wait_for()
    alice.locator("#online li", has_text="bob").wait_for()

    # Typing shows on the other page and goes away by itself.
    bob.fill("#composer-body", "hel")
    bob.type("#composer-body", "l")
    alice.locator("#typing", has_text="bob is typing").wait_for()
    alice.wait_for_function("document.getElementById('typing').textContent === ''")
    bob.fill("#composer-body", "")

    send(alice, "hello bob")
    wait_for_body(bob, "hello bob")
    send(bob, "hi alice")
    wait_for_body(alice, "hi alice")

    # User text is text: the payload shows literally and nothing runs.
    send(alice, XSS)
    wait_for_body(bob, "onerror")
    assert XSS in bodies(bob)
    assert bob.locator("#messages img").count() == 0
    assert alice.dialogs == []
    assert bob.dialogs == []

    # The server goes away; messages are posted meanwhile (straight to the database).
    server.stop()
    bob.wait_for_selector("[data-live-state=reconnecting]")
    manage("post_message", room.slug, "--user", "alice", "--body", "missed one")
    manage("post_message", room.slug, "--user", "alice", "--body", "missed two")
    server.start()

    for page in (alice, bob):
        page.wait_for_selector("[data-live-state=connected]", timeout=30_000)
        wait_for_body(page, "missed two")
        shown = bodies(page)
        # Every message exactly once, in order, no gap.
        assert shown == ["hello bob", "hi alice", XSS, "missed one", "missed two"]
        # The reconnect resumed from the last id the page had shown.
        assert "?after_id=" in page.socket_urls[-1]
        assert "?after_id=" not in page.socket_urls[0]

    send(bob, "after the restart")
    wait_for_body(alice, "after the restart")
    if shots := os.environ.get("E2E_SCREENSHOTS"):
        alice.screenshot(path=f"{shots}/chat-room.png", full_page=True)


def test_a_permanent_close_is_not_retried(browser: Any, daphne_server: Daphne) -> None:
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{daphne_server.url}/chat/")
    page.wait_for_selector("[data-live-state=connected]")
    # The page's own live.js (one module per URL): its badge shows this socket too.
    page.evaluate(
        """async () => {
            const {connect} = await import("/static/realtime/live.js");
            window.closedWith = null;
            const onClosed = (code) => (window.closedWith = code);
            connect("/ws/chat/no-such-room/", {onClosed});
        }"""
    )
    page.wait_for_function("window.closedWith === 4404")
    page.wait_for_selector("[data-live-state=closed]")
    page.wait_for_timeout(2000)  # long enough for several retries, were there any
    assert len([url for url in sockets if "no-such-room" in url]) == 1


# Keeps the page's sockets, so a test can hand one a frame as if the server had sent it.
KEEP_SOCKETS = """(() => {
    const Native = window.WebSocket;
    window.openedSockets = [];
    window.WebSocket = function (url) {
        const ws = new Native(url);
        window.openedSockets.push(ws);
        return ws;
    };
    Object.assign(window.WebSocket, Native);
    window.WebSocket.prototype = Native.prototype;
})()"""


def open_keeping_sockets(browser: Any, server: Daphne, room: Room) -> Any:
    """Alice's page of the room, its sockets kept in ``window.openedSockets``."""
    return log_in(browser, server.url, "alice", f"/chat/{room.slug}/", init_script=KEEP_SOCKETS)


def test_a_change_that_arrives_early_does_not_move_the_resume_past_a_gap(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    room = make_room(retention=0)
    manage("post_message", room.slug, "--user", "alice", "--body", "one")  # seq 1
    page = open_keeping_sockets(browser, daphne_server, room)
    wait_for_body(page, "one")
    # Change 3 arrives before change 2 (two server processes publish in the order their
    # own commits end), then the socket drops before change 2 comes.
    page.evaluate(
        """() => {
            const ws = window.openedSockets.at(-1);
            const early = {type: "message.deleted", ids: [999999], seq: 3};
            ws.onmessage({data: JSON.stringify(early)});
            ws.close();
        }"""
    )
    page.wait_for_function("window.openedSockets.length === 2")
    page.wait_for_selector("[data-live-state=connected]")
    # It resumes from 1, the last change with none missing below it, and so gets 2.
    assert page.socket_urls[-1].endswith("?after_id=1")


def test_a_page_sends_nothing_after_closing_and_sends_it_on_the_next_socket(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    room = make_room(retention=0)
    page = open_keeping_sockets(browser, daphne_server, room)
    # The server said it is restarting: it closes the socket once the page goes quiet.
    page.evaluate(
        """() => window.openedSockets.at(-1).onmessage(
            {data: JSON.stringify({type: "closing", reason: "restart"})})"""
    )
    send(page, "written during the restart")
    page.locator("#composer-status", has_text="will be sent when the connection is back").wait_for()
    assert not Message.objects.filter(room=room).exists()
    page.evaluate("() => window.openedSockets.at(-1).close()")  # the close comes
    wait_for_body(page, "written during the restart")
    assert Message.objects.filter(room=room, body="written during the restart").count() == 1
