"""Two players find each other in the lobby and play Connect Four with the keyboard in
real browsers; a third page watches every move; then a rematch with colours swapped."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Daphne
from tests.e2e.conftest import log_in, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def pieces(page: Any) -> int:
    return page.locator("#board .cell.p1, #board .cell.p2").count()


def wait_pieces(page: Any, count: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('#board .cell.p1, #board .cell.p2').length === {count}"
    )


def test_two_players_play_to_a_win_with_the_keyboard_while_a_third_watches(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("ruby")
    make_user("sunny")
    red = log_in(browser, daphne_server.url, "ruby", "/game/")
    red.click("#quick-play")
    red.wait_for_url("**/game/*/")
    game_url = red.url
    red.locator("#status", has_text="Waiting for an opponent").wait_for()

    yellow = log_in(browser, daphne_server.url, "sunny", "/game/")
    yellow.locator("#waiting li", has_text="ruby is waiting").wait_for()
    yellow.click("#quick-play")
    yellow.wait_for_url(game_url)

    watcher = browser.new_context().new_page()
    watcher.set_default_timeout(15_000)
    watcher.goto(game_url)
    watcher.locator("#status", has_text="ruby to move").wait_for()
    red.locator("#spectators", has_text="1").wait_for()

    # Red drops in column 4 (the cursor starts there); yellow moves right once, then
    # keeps dropping in column 5. Red's fourth piece makes four in a column.
    keys = {red: [], yellow: ["ArrowRight"]}
    for turn in range(7):
        page = red if turn % 2 == 0 else yellow
        page.locator("#status", has_text="Your turn").wait_for()
        for key in keys[page]:
            page.keyboard.press(key)
        keys[page] = []
        page.keyboard.press("Enter" if turn % 4 < 2 else " ")
        for everyone in (red, yellow, watcher):
            wait_pieces(everyone, turn + 1)
    assert watcher.locator("#board .cell.p1").count() == 4
    assert watcher.locator("#board .cell.p2").count() == 3
    assert watcher.locator("#board .cell.win").count() == 4
    red.locator("#status", has_text="You win (four in a row)!").wait_for()
    yellow.locator("#status", has_text="ruby wins (four in a row).").wait_for()
    watcher.locator("#status", has_text="ruby wins").wait_for()
    assert red.locator("#status").get_attribute("aria-live") == "assertive"
    if shots := os.environ.get("E2E_SCREENSHOTS"):
        watcher.screenshot(path=f"{shots}/game-won.png", full_page=True)

    # A move after the end changes nothing.
    yellow.keyboard.press("Enter")
    yellow.locator("#game-error").wait_for()
    assert pieces(yellow) == 7

    # Rematch: both ask, both pages move to the new game, colours swapped.
    red.get_by_role("button", name="Rematch").click()
    yellow.get_by_role("button", name="Accept rematch").click()
    for page in (red, yellow):
        page.wait_for_url(lambda url: url != game_url and "/game/" in url)
        page.locator("#players-line", has_text="sunny vs ruby").wait_for()
    yellow.locator("#status", has_text="Your turn").wait_for()
    red.locator("#status", has_text="sunny to move").wait_for()


def test_the_turn_is_cued_resign_asks_focus_stays_and_reloads_keep_the_last_move(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("ruby")
    make_user("sunny")
    red = log_in(browser, daphne_server.url, "ruby", "/game/")
    red.click("#quick-play")
    red.wait_for_url("**/game/*/")
    game_url = red.url
    # Sound on turn: the page's tone is counted instead of played.
    tone_counter = (
        "window.tones = 0; window.AudioContext = class { constructor() {} "
        "createOscillator() { window.tones++; return {frequency: {}, connect: (g) => g, "
        "start() {}, stop() {}}; } createGain() { return {gain: {setValueAtTime() {}, "
        "exponentialRampToValueAtTime() {}}, connect: () => ({})}; } "
        "get currentTime() { return 0; } get destination() { return {}; } };"
    )
    yellow = log_in(browser, daphne_server.url, "sunny", "/game/", init_script=tone_counter)
    yellow.click("#quick-play")
    yellow.wait_for_url(game_url)
    yellow.check("#turn-sound")
    tones = yellow.evaluate("window.tones")

    # Red's turn: red's tab title and status say so, yellow's do not.
    red.locator("#status.your-turn").wait_for()
    red.wait_for_function("document.title.startsWith('● Your turn')")
    assert not yellow.title().startswith("● Your turn")
    assert yellow.locator("#status.your-turn").count() == 0

    # A key press out of turn explains itself; the next state clears it.
    yellow.locator("#board").focus()
    yellow.keyboard.press("Enter")
    yellow.locator("#game-error", has_text="Wait for your turn.").wait_for()
    red.keyboard.press("Enter")
    yellow.locator("#game-error").wait_for(state="hidden")
    yellow.wait_for_function("document.title.startsWith('● Your turn')")
    yellow.wait_for_function(f"window.tones > {tones}")
    red.wait_for_function("!document.title.startsWith('● Your turn')")

    # After a reload the last move keeps its ring.
    yellow.reload()
    yellow.wait_for_selector("[data-live-state=connected]")
    yellow.locator("#board .cell.last.p1").wait_for()

    # Offering a draw: the focus is back on the board, and both status lines say it.
    yellow.keyboard.press("Enter")
    red.locator("#status.your-turn").wait_for()
    red.get_by_role("button", name="Offer a draw").click()
    red.locator("#status", has_text="You offered a draw.").wait_for()
    yellow.locator("#status", has_text="ruby offers a draw.").wait_for()
    assert red.evaluate("document.activeElement.id") == "board"

    # Resigning asks first; "Keep playing" leaves the game as it was.
    red.get_by_role("button", name="Resign…").click()
    red.get_by_role("button", name="Keep playing").wait_for()
    assert red.evaluate("document.activeElement.textContent") == "Keep playing"
    red.get_by_role("button", name="Keep playing").click()
    assert red.evaluate("document.activeElement.id") == "board"
    red.locator("#status", has_text="Your turn").wait_for()
    red.get_by_role("button", name="Resign…").click()
    red.get_by_role("button", name="Yes, resign").click()
    yellow.locator("#status", has_text="You win (resignation)!").wait_for()
    red.wait_for_function("!document.title.startsWith('● Your turn')")
    shot(yellow, "game-resigned")


def test_phone_players_and_spectators_get_help_that_fits_them(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("ruby")
    make_user("sunny")
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    red = log_in(browser, daphne_server.url, "ruby", "/game/", **phone)
    red.click("#quick-play")
    red.wait_for_url("**/game/*/")
    game_url = red.url
    yellow = log_in(browser, daphne_server.url, "sunny", "/game/", **phone)
    yellow.click("#quick-play")
    yellow.wait_for_url(game_url)
    red.locator("#status", has_text="Your turn.").wait_for()
    assert "selected" not in red.inner_text("#status")
    assert red.inner_text("#board-help") == "Tap a column to drop your piece there."
    watcher = browser.new_context(**phone).new_page()
    watcher.goto(game_url)
    watcher.locator("#board-help", has_text="You are watching").wait_for()
    assert watcher.locator(".game-sound").is_hidden()
    shot(red, "game-phone-player")
