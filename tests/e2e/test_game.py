"""Two players find each other in the lobby and play Connect Four with the keyboard in
real browsers; a third page watches every move; then a rematch with colours swapped."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from game import services as game_services
from tests.conftest import Daphne
from tests.e2e.conftest import log_in, off_loop, shot
from tests.e2e.test_site import axe_problems

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
    red.locator("#status", has_text="You win: four in a row, rows 1 to 4 in column 4.").wait_for()
    yellow.locator(
        "#status", has_text="ruby wins: four in a row, rows 1 to 4 in column 4."
    ).wait_for()
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


def two_players(browser: Any, url: str, **options: Any) -> tuple[Any, Any, str]:
    """alice's and bob's pages on a game between them (alice red, to move)."""
    alice = log_in(browser, url, "alice", "/game/", **options)
    alice.click("#quick-play")
    alice.wait_for_url("**/game/*/")
    bob = log_in(browser, url, "bob", "/game/", **options)
    bob.click("#quick-play")
    bob.wait_for_url(alice.url)
    alice.locator("#status", has_text="Your turn").wait_for()
    return alice, bob, alice.url


def test_a_declined_draw_offer_is_told_to_the_offerer(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    make_user("bob")
    alice, bob, _url = two_players(browser, daphne_server.url)
    alice.get_by_role("button", name="Offer a draw").click()
    bob.locator("#status", has_text="alice offers a draw.").wait_for()
    bob.get_by_role("button", name="Decline draw").click()
    alice.locator("#game-note", has_text="bob declined your draw offer.").wait_for()
    assert alice.get_attribute("#game-note", "role") == "status"
    assert "offered a draw" not in alice.inner_text("#status")
    alice.get_by_role("button", name="Offer a draw").wait_for()
    # The one who declined is not told what they did.
    assert bob.locator("#game-note").is_hidden()


def test_the_winning_four_is_marked_and_announced_and_the_move_list_grows_on_both_pages(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    make_user("bob")
    alice, bob, _url = two_players(browser, daphne_server.url)
    for page in (alice, bob):
        page.locator("#no-moves", has_text="No moves yet.").wait_for()
    # alice along the bottom row in columns 2 to 5, bob on top of her.
    columns = [1, 1, 2, 2, 3, 3, 4]
    for number, column in enumerate(columns, start=1):
        mover = alice if number % 2 else bob
        mover.locator("#status", has_text="Your turn").wait_for()
        mover.click(f"#column-{column}")
        who = "alice" if number % 2 else "bob"
        for page in (alice, bob):
            page.wait_for_function(
                f"document.querySelectorAll('#move-list li').length === {number}"
            )
            assert page.inner_text("#move-list li:last-child").split() == [
                f"{number}.",
                f"{who},",
                "column",
                str(column + 1),
            ]
        if number == 3:
            shot(alice, "game-move-list")
    assert alice.locator("#no-moves").is_hidden()
    words = "four in a row, columns 2 to 5 on row 1."
    alice.locator("#status", has_text=f"You win: {words}").wait_for()
    bob.locator("#status", has_text=f"alice wins: {words}").wait_for()
    for page in (alice, bob):
        # The four are marked (a shape on each, the other pieces dimmed), and each
        # column says it holds part of them.
        assert page.locator("#board.won .cell.win").count() == 4
        for column in range(1, 5):
            bottom = page.locator(f"#column-{column} .cell").last
            assert "win" in (bottom.get_attribute("class") or "")
            label = page.get_attribute(f"#column-{column}", "aria-label") or ""
            assert label.endswith("1 of them in the winning four"), label
        assert "winning" not in (page.get_attribute("#column-0", "aria-label") or "")
        after = page.evaluate(
            "getComputedStyle(document.querySelector('#board .cell.win'), '::after').content"
        )
        assert after == '""'
    assert axe_problems(bob, "a won game") == []


def test_a_finished_game_replays_move_by_move_with_buttons_and_keys(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    game = off_loop(lambda: game_services.game_create(user=alice))
    off_loop(lambda: game_services.game_join(game_id=game.pk, user=bob))
    columns = [1, 1, 2, 2, 3, 3, 4]
    for number, column in enumerate(columns):
        player = alice if number % 2 == 0 else bob
        off_loop(
            lambda p=player, c=column: game_services.game_move(game_id=game.pk, user=p, column=c)
        )
    # Anyone, logged out too, replays it from what is stored.
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{daphne_server.url}/game/{game.pk}/")
    page.wait_for_selector("[data-live-state=connected]")
    page.locator("#replay-status", has_text="Move 7 of 7: alice, column 5.").wait_for()
    assert page.locator("#move-list li").count() == 7
    assert pieces(page) == 7

    def shows(count: int, words: str) -> None:
        page.locator("#replay-status", has_text=words).wait_for()
        assert pieces(page) == count
        if 0 < count < 7:
            current = page.locator("#move-list li[aria-current=step]")
            assert current.count() == 1
            assert current.inner_text().startswith(f"{count}.")
            assert page.locator("#board .cell.win").count() == 0
        else:
            assert page.locator("#move-list li[aria-current=step]").count() == 0

    page.locator("#board").focus()
    page.keyboard.press("Home")
    shows(0, "Start: the empty board (7 moves in all).")
    page.keyboard.press("ArrowLeft")  # already at the start
    shows(0, "Start")
    page.keyboard.press("ArrowRight")
    shows(1, "Move 1 of 7: alice, column 2.")
    assert "p1" in (page.locator("#column-1 .cell").last.get_attribute("class") or "")
    page.keyboard.press("ArrowRight")
    shows(2, "Move 2 of 7: bob, column 2.")
    assert "last" in (page.locator("#column-1 .cell").nth(4).get_attribute("class") or "")
    page.get_by_role("button", name="Forward").click()
    shows(3, "Move 3 of 7: alice, column 3.")
    # The focus stays on the button; the keys go on working from it.
    page.keyboard.press("ArrowRight")
    shows(4, "Move 4 of 7: bob, column 3.")
    page.get_by_role("button", name="Back").click()
    shows(3, "Move 3 of 7")
    shot(page, "game-replay")
    assert axe_problems(page, "a replay") == []
    page.get_by_role("button", name="End").click()
    shows(7, "Move 7 of 7")
    assert page.locator("#board .cell.win").count() == 4
    assert page.get_attribute("#replay button[data-key=End]", "aria-disabled") == "true"
    page.get_by_role("button", name="Start").click()
    shows(0, "Start")
    page.keyboard.press("End")
    shows(7, "Move 7 of 7")
