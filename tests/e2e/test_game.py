"""Two players find each other in the lobby and play Connect Four with the keyboard in
real browsers; a third page watches every move; then a rematch with colours swapped."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Daphne
from tests.e2e.conftest import log_in

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
