"""The snake arena in real browsers: two players steer with the arrow keys, one eats and
scores, one crashes, a visitor watches it all; a reload resumes mid-round."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from game import snake
from game.arena import store as arena_store
from game.arena import world as arena_world
from game.models import Arena
from tests.conftest import Daphne, own_daphne
from tests.e2e.conftest import log_in, off_loop, shot
from tests.e2e.test_site import axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def arena_server(tmp_path: Path) -> Iterator[Daphne]:
    """A daphne of the test's own, stopped before the database is flushed: the arena it
    runs goes on writing rounds after the test, and on PostgreSQL such a write racing
    the flush's TRUNCATE can deadlock it."""
    yield from own_daphne(tmp_path)


KEYS = {"up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight"}


def world_of(arena_id: int) -> tuple[arena_world.Meta, snake.State]:
    stored = off_loop(lambda: arena_store.read_world_sync(arena_id))
    assert stored is not None
    return stored


def safe(state: snake.State, cell: snake.Cell) -> bool:
    x, y = cell
    inside = 0 <= x < state.config.width and 0 <= y < state.config.height
    return inside and all(cell not in s.body for s in state.snakes)


def steer_to_food(page: Any, arena_id: int, player: int, timeout: float = 60) -> None:
    """Press arrow keys, as a player would, until the snake has eaten once: towards the
    nearest food, never straight back, never into a wall or a body if it can help it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _meta, state = world_of(arena_id)
        me = state.snake(player)
        if me is not None and me.score >= 1:
            return
        if me is None or not me.alive or not state.food:
            time.sleep(0.05)
            continue
        (hx, hy) = me.body[0]
        fx, fy = min(state.food, key=lambda f: abs(f[0] - hx) + abs(f[1] - hy))
        wanted = []
        if fx != hx:
            wanted.append("right" if fx > hx else "left")
        if fy != hy:
            wanted.append("down" if fy > hy else "up")
        wanted += [d for d in snake.DIRECTIONS if d not in wanted]
        for direction in wanted:
            if direction == snake.OPPOSITE[me.direction]:
                continue
            dx, dy = snake.STEPS[direction]
            if safe(state, (hx + dx, hy + dy)):
                if direction != me.direction:
                    page.keyboard.press(KEYS[direction])
                break
        time.sleep(0.04)
    raise AssertionError("the snake did not eat within the time")


def record_announcements(page: Any) -> None:
    """Keep what the page says to screen readers: one announcement replaces the last (the
    snake that ate may crash a moment later, before a test looks)."""
    page.evaluate(
        """() => {
        const announcer = document.getElementById('arena-announce');
        window.rtsiteSaid = [];
        new MutationObserver(() => {
            if (announcer.textContent) window.rtsiteSaid.push(announcer.textContent);
        }).observe(announcer, {childList: true, characterData: true, subtree: true});
    }"""
    )


def said(page: Any, text: str) -> None:
    page.wait_for_function("(text) => window.rtsiteSaid.some((t) => t.includes(text))", arg=text)


def test_two_players_steer_one_scores_one_crashes_and_a_visitor_sees_it(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    ruby = make_user("ruby")
    sunny = make_user("sunny")
    red = log_in(browser, daphne_server.url, "ruby", "/game/")
    red.click("#arena-quick-play")
    red.wait_for_url("**/game/arena/*/?play=1")
    arena = Arena.objects.get()
    url = f"/game/arena/{arena.pk}/"
    red.locator("#arena-scores tr.me", has_text="ruby (you)").wait_for()
    red.locator("#arena-leave").wait_for()
    assert red.evaluate("document.activeElement.id") == "arena-canvas"

    yellow = log_in(browser, daphne_server.url, "sunny", url)
    yellow.click("#arena-join")
    yellow.locator("#arena-scores tr.me", has_text="sunny (you)").wait_for()

    watcher = browser.new_context().new_page()
    watcher.set_default_timeout(15_000)
    watcher.goto(f"{daphne_server.url}{url}")
    watcher.locator("#arena-phase", has_text="Round 1").wait_for()
    watcher.locator("#arena-scores", has_text="ruby").wait_for()
    watcher.locator("#arena-scores", has_text="sunny").wait_for()
    assert watcher.locator("#arena-join").count() == 0  # a visitor is told to log in

    # Ruby steers to the food with the arrow keys; sunny leaves the keys alone and runs
    # into a wall.
    for page in (red, yellow):
        record_announcements(page)
    steer_to_food(red, arena.pk, ruby.pk)
    said(red, "Score")
    for page in (red, yellow, watcher):
        page.wait_for_function(
            "[...document.querySelectorAll('#arena-scores tr')].some(r => "
            "r.cells[0].textContent.startsWith('ruby') && Number(r.cells[1].textContent) >= 1)"
        )
    for page in (yellow, watcher):
        page.wait_for_function(
            "[...document.querySelectorAll('#arena-scores tr')].some(r => "
            "r.cells[0].textContent.startsWith('sunny') && Number(r.cells[3].textContent) >= 1)"
        )
    said(yellow, "You crashed")
    _meta, state = world_of(arena.pk)
    assert state.snake(sunny.pk).deaths >= 1  # type: ignore[union-attr]
    # The visitor's canvas draws the world: some pixels are the snakes' colours.
    assert (
        watcher.evaluate(
            """() => {
            const c = document.getElementById('arena-canvas');
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let coloured = 0;
            for (let i = 0; i < data.length; i += 4) {
                const rgb = [data[i], data[i + 1], data[i + 2]];
                if (Math.max(...rgb) - Math.min(...rgb) > 80) coloured++;
            }
            return coloured;
        }"""
        )
        > 0
    )
    shot(red, "arena-player")
    shot(watcher, "arena-watcher")

    # A reload resumes mid-round: still playing, score kept, steering works at once.
    score = state.snake(ruby.pk).score  # type: ignore[union-attr]
    red.reload()
    red.wait_for_selector("[data-live-state=connected]")
    red.locator("#arena-scores tr.me", has_text="ruby (you)").wait_for()
    assert red.locator("#arena-join").is_hidden()
    red.locator("#arena-phase", has_text="Round 1").wait_for()
    red.wait_for_function(
        "Number(document.querySelector('#arena-scores tr.me').cells[1].textContent) >= "
        + str(score)
    )
    red.locator("#arena-canvas").focus()
    deadline = time.monotonic() + 20
    turned = False
    while time.monotonic() < deadline and not turned:
        _meta, state = world_of(arena.pk)
        me = state.snake(ruby.pk)
        if me is None or not me.alive:
            time.sleep(0.1)
            continue
        sideways = "up" if me.direction in ("left", "right") else "left"
        red.keyboard.press(KEYS[sideways])
        time.sleep(0.4)
        after = state.snake(ruby.pk)
        _meta, later = world_of(arena.pk)
        after = later.snake(ruby.pk)
        turned = after is not None and (after.direction == sideways or not after.alive)
    assert turned


def test_the_page_says_when_it_is_reconnecting(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("ruby")
    red = log_in(browser, daphne_server.url, "ruby", "/game/")
    red.click("#arena-create")
    red.wait_for_url("**/game/arena/*/?play=1")
    red.locator("#arena-phase", has_text="Round 1").wait_for()
    red.context.set_offline(True)
    red.evaluate("window.dispatchEvent(new Event('offline'))")
    red.locator("#arena-overlay", has_text="paused").wait_for()
    red.context.set_offline(False)
    red.evaluate("window.dispatchEvent(new Event('online'))")
    red.locator("#arena-overlay").wait_for(state="hidden")


def test_a_player_who_leaves_goes_from_every_page(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    """A leave in a tick names the player as a join does; every page drops them from the
    scores, and the one who left can join again."""
    make_user("ruby")
    make_user("sunny")
    red = log_in(browser, daphne_server.url, "ruby", "/game/")
    red.click("#arena-create")
    red.wait_for_url("**/game/arena/*/?play=1")
    red.locator("#arena-phase", has_text="Round 1").wait_for()
    url = f"/game/arena/{Arena.objects.get().pk}/"
    yellow = log_in(browser, daphne_server.url, "sunny", url)
    yellow.click("#arena-join")
    yellow.locator("#arena-scores tr.me", has_text="sunny (you)").wait_for()
    watcher = browser.new_context().new_page()
    watcher.set_default_timeout(15_000)
    watcher.goto(f"{daphne_server.url}{url}")
    for page in (red, watcher):
        page.locator("#arena-scores", has_text="sunny").wait_for()

    yellow.click("#arena-leave")
    yellow.locator("#arena-announce", has_text="You left the round").wait_for()
    yellow.locator("#arena-join").wait_for()
    for page in (red, yellow, watcher):
        page.wait_for_function(
            "![...document.querySelectorAll('#arena-scores tr')].some(r => "
            "r.cells[0].textContent.startsWith('sunny'))"
        )
        assert page.locator("#arena-players").text_content() == "1"
    watcher.locator("#arena-scores", has_text="ruby").wait_for()


# Every value the board's names take, in window.seenLabels (from the page's first load).
RECORD_LABELS = """
window.seenLabels = [];
new MutationObserver((changes) => {
  for (const change of changes) {
    const labels = change.target.dataset.labels;
    if (change.attributeName === "data-labels") window.seenLabels.push(labels);
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-labels"]});
"""


def labels(page: Any) -> str:
    """The names the page's board draws over the snakes ("|" between them)."""
    return page.evaluate("document.getElementById('arena-canvas').dataset.labels || ''")


def test_every_snake_is_named_and_a_crash_says_what_it_hit_and_counts_down(
    browser: Any, arena_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("ruby")
    make_user("sunny")
    red = log_in(browser, arena_server.url, "ruby", "/game/", init_script=RECORD_LABELS)
    red.click("#arena-create")
    red.wait_for_url("**/game/arena/*/?play=1")
    url = f"/game/arena/{Arena.objects.get().pk}/"
    yellow = log_in(browser, arena_server.url, "sunny", url)
    yellow.click("#arena-join")
    # Each page names both snakes on the board, its own as "(you)". Both are on the board
    # at once only while neither is waiting to come back from a crash: on a loaded
    # machine that can be a moment between two polls, so every board drawn is recorded.
    red.wait_for_function(
        "(window.seenLabels || []).some((l) => l.split('|').includes('ruby (you)')"
        " && l.split('|').includes('sunny'))",
        timeout=30_000,
    )
    yellow.wait_for_function(
        "(document.getElementById('arena-canvas').dataset.labels || '').split('|')"
        ".includes('sunny (you)')"
    )
    assert "ruby (you)" not in labels(yellow)
    # Left alone, sunny's snake runs into a wall: the board says so and counts down, and
    # a screen reader hears it.
    cover = yellow.locator("#arena-overlay.crashed")
    cover.wait_for(timeout=30_000)
    assert cover.locator(".arena-cause").text_content() in (
        "You crashed into the wall.",
        "You crashed into ruby.",
        "You crashed into yourself.",
    )
    assert cover.locator(".arena-countdown").text_content() in ("Back in 1", "Back in 2")
    yellow.locator("#arena-announce", has_text="Back in 2 seconds.").wait_for()
    announced = yellow.locator("#arena-announce").text_content() or ""
    assert announced.startswith("You crashed into ")
    cover.wait_for(state="hidden")  # back on the board


def test_a_round_ends_with_a_podium_on_the_board_and_every_final_length(
    browser: Any, arena_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("ruby")
    sunny = make_user("sunny")
    red = log_in(browser, arena_server.url, "ruby", "/game/")
    red.click("#arena-create")
    red.wait_for_url("**/game/arena/*/?play=1")
    arena = Arena.objects.get()
    yellow = log_in(browser, arena_server.url, "sunny", f"/game/arena/{arena.pk}/")
    yellow.click("#arena-join")
    yellow.locator("#arena-scores tr.me", has_text="sunny (you)").wait_for()
    # The round ends while sunny's snake is out (it ran into a wall and is not back).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _meta, state = world_of(arena.pk)
        out = state.snake(sunny.pk)
        if out is not None and not out.alive and out.deaths:
            break
        time.sleep(0.02)
    off_loop(lambda: arena_store.send_command_sync(arena.pk, {"kind": "end_round", "player": 0}))
    for page in (red, yellow):
        podium = page.locator("#arena-podium")
        podium.wait_for()
        assert podium.locator("h2").text_content() == "Round 1 over"
        names = podium.locator(".podium-name").all_text_contents()
        assert sorted(n.removesuffix(" (you)") for n in names) == ["ruby", "sunny"]
        assert podium.locator(".place-1 .podium-block").text_content() == "1st"
        for stat in podium.locator(".podium-stat").all_text_contents():
            assert not stat.startswith("length 0"), stat
        page.locator("#arena-podium-next", has_text="Next round in").wait_for()
        assert page.locator("#arena-overlay").is_hidden()  # the podium says it
    rows = red.locator("#arena-results-list li").all_text_contents()
    assert len(rows) == 2
    assert all("(length 0" not in row for row in rows), rows
    meta, _state = world_of(arena.pk)
    assert all(row["length"] > 0 for row in meta.results or []), meta.results
    # The podium passes axe in both schemes, on a desktop and (full screen) on a phone.
    assert axe_problems(red, "the podium") == []


@pytest.mark.parametrize(
    ("width", "height"), [(390, 844), (844, 390)], ids=["portrait", "landscape"]
)
def test_on_a_phone_the_board_fills_the_screen_with_the_arrows_beside_it(
    browser: Any,
    arena_server: Daphne,
    make_user: Callable[..., Any],
    width: int,
    height: int,
) -> None:
    make_user("ruby")
    red = log_in(
        browser,
        arena_server.url,
        "ruby",
        "/game/",
        viewport={"width": width, "height": height},
        has_touch=True,
    )
    red.click("#arena-create")
    red.wait_for_url("**/game/arena/*/?play=1")
    red.locator("#arena-pad").wait_for()
    red.locator("#arena-phase", has_text="Round 1").wait_for()
    box = red.evaluate(
        """() => {
        const rect = (el) => { const r = el.getBoundingClientRect();
          return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
        const root = document.documentElement;
        return {board: rect(document.getElementById('arena-canvas')),
                pad: [...document.querySelectorAll('#arena-pad button')].map(rect),
                scrollWidth: root.scrollWidth, scrollHeight: root.scrollHeight,
                width: innerWidth, height: innerHeight};
    }"""
    )
    board = box["board"]
    # The board fills the screen's width (portrait) or height (landscape), a few pixels
    # of margin aside, and nothing scrolls.
    if width < height:
        assert board["right"] - board["left"] >= width - 16, box
    else:
        assert board["bottom"] - board["top"] >= height - 16, box
    assert box["scrollWidth"] <= width, box
    assert box["scrollHeight"] <= height, box
    # Every arrow is on the screen, clear of the board: below it or beside it.
    for button in box["pad"]:
        assert button["left"] >= 0, box
        assert button["top"] >= 0, box
        assert button["right"] <= width, box
        assert button["bottom"] <= height, box
        assert button["top"] >= board["bottom"] or button["left"] >= board["right"], box
    shot(red, f"arena-phone-{width}x{height}")


# The arena's socket fails to connect while the page's URL asks to hold it (a port where
# nothing listens), until the test lets it go.
HOLD_ARENA_SOCKET = """
(() => {
  const Real = window.WebSocket;
  window.holdArena = new URLSearchParams(location.search).get("hold") === "1";
  window.WebSocket = function (url, protocols) {
    if (window.holdArena && String(url).includes("/ws/game/arena/")) url = "ws://127.0.0.1:9/";
    return new Real(url, protocols);
  };
  window.WebSocket.prototype = Real.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""


def test_join_clicked_before_the_arena_is_connected_joins_once_it_is(
    browser: Any, arena_server: Daphne, make_user: Callable[..., Any]
) -> None:
    """A person who clicks Join while the page is still connecting (or reconnecting) is
    not left watching: the page joins when the arena arrives. (The click used to be
    dropped: the request was refused for want of a socket, and nothing was said.)"""
    make_user("ruby")
    make_user("sunny")
    red = log_in(browser, arena_server.url, "ruby", "/game/")
    red.click("#arena-create")
    red.wait_for_url("**/game/arena/*/?play=1")
    url = f"/game/arena/{Arena.objects.get().pk}/"
    yellow = log_in(browser, arena_server.url, "sunny", "/game/", init_script=HOLD_ARENA_SOCKET)
    yellow.goto(f"{arena_server.url}{url}?hold=1")
    yellow.locator("[data-live-retry]").first.wait_for()  # waiting to try again
    yellow.click("#arena-join")
    yellow.locator("#arena-announce", has_text="You will join once connected.").wait_for()
    yellow.evaluate("window.holdArena = false")
    yellow.locator("[data-live-retry]").first.click()
    yellow.locator("#arena-scores tr.me", has_text="sunny (you)").wait_for()
    red.locator("#arena-scores", has_text="sunny").wait_for()
