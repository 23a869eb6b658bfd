"""The site around the live features, in Chromium: the connection badge through a network
drop, notifications (inbox items added live, toasts that wait while read, a group joined
with the page open), forms, the phone layout, the dark scheme, and axe-core over every
page in both schemes and at both widths."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from chat import services as chat_services
from chat.models import Room
from game import services as game_services
from notifications import services as notification_services
from notifications.tokens import unsubscribe_token
from tests.chat.files_helpers import png
from tests.conftest import Daphne, own_daphne
from tests.e2e.conftest import PASSWORD, log_in, notifications_synced, off_loop, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def own_server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    yield from own_daphne(tmp_path)  # its own: a test stops and restarts it


def notify(**kwargs: Any) -> Any:
    return off_loop(lambda: notification_services.notification_send(**kwargs))


# ---------------------------------------------------------------- the connection badge


def test_the_badge_shows_the_sockets_real_state_through_a_network_drop(
    browser: Any,
    own_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    bob = make_user("bob")
    room = make_room()
    page = log_in(browser, own_server.url, "alice", f"/chat/{room.slug}/")

    # A short drop that the socket outlives: Offline while the browser has no network;
    # once it is back, the message posted meanwhile arrives and the badge says Live (it
    # stayed on a red "Offline" for 30 s while messages flowed).
    page.context.set_offline(True)
    page.wait_for_selector("[data-live-state=offline]")
    off_loop(lambda: chat_services.message_post(room=room, author=bob, body="during the drop"))
    page.wait_for_timeout(1000)
    page.context.set_offline(False)
    page.locator(".message", has_text="during the drop").wait_for()
    page.wait_for_selector("[data-live-state=connected]")
    assert page.locator(".live-state").text_content() == "Live"

    # A drop that the socket does not survive: Offline while it cannot reconnect, then
    # Live again as soon as the network is back, with what was posted meanwhile.
    page.context.set_offline(True)
    own_server.stop()
    page.wait_for_selector("[data-live-state=offline]")
    assert page.locator(".live-state").text_content() == "Offline"
    own_server.start()
    off_loop(lambda: chat_services.message_post(room=room, author=bob, body="while away"))
    page.context.set_offline(False)
    page.wait_for_selector("[data-live-state=connected]")
    page.locator(".message", has_text="while away").wait_for()
    assert page.locator(".message", has_text="while away").count() == 1


# ---------------------------------------------------------------- notifications

DESCRIBE_ITEM = """(li) => {
  // What a person sees of an inbox item: its elements, classes, texts and links, and
  // the colours of its border and level (not the form's one-time CSRF token).
  const walk = (el) => ({
    tag: el.tagName, cls: el.className, dir: el.dir, href: el.getAttribute("href"),
    action: el.getAttribute("action"), method: el.getAttribute("method"),
    datetime: el.getAttribute("datetime"), name: el.getAttribute("name"),
    text: el.children.length ? null : el.textContent,
    kids: [...el.children].map(walk),
  });
  const style = getComputedStyle(li);
  return {tree: walk(li), border: style.borderLeftColor, background: style.backgroundColor,
          level: getComputedStyle(li.querySelector(".level")).color};
}"""


def test_inbox_items_added_live_look_like_the_servers(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    alice = make_user("alice")
    page = log_in(browser, daphne_server.url, "alice", "/notifications/")
    sent = notify(
        title="Deploy finished", body="All green.", level="warning", link="/chat/", users=[alice]
    )
    item = page.locator(f'#inbox li[data-id="{sent.pk}"]')
    item.wait_for()
    live = item.evaluate(DESCRIBE_ITEM)
    page.reload()
    page.wait_for_selector("[data-live-state=connected]")
    server = page.locator(f'#inbox li[data-id="{sent.pk}"]').evaluate(DESCRIBE_ITEM)
    assert live == server
    assert "Warning" in item.text_content()
    # The level's colour on the border: not the colour of an info item's.
    info = notify(title="Just so you know", users=[alice])
    info_item = page.locator(f'#inbox li[data-id="{info.pk}"]')
    info_item.wait_for()
    assert info_item.evaluate(DESCRIBE_ITEM)["border"] != live["border"]
    shot(page, "inbox-live")


def test_a_toast_waits_while_it_is_hovered_or_focused(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    alice = make_user("alice")
    page = log_in(browser, daphne_server.url, "alice", "/chat/")
    page.context.clock.install()  # timers run only when the test moves the clock
    page.reload()
    page.wait_for_selector("[data-live-state=connected]")
    notifications_synced(page)

    notify(title="hover me", users=[alice])
    toast = page.locator(".toast", has_text="hover me")
    toast.hover()
    page.clock.run_for(60_000)  # far beyond any toast's time
    assert toast.is_visible()
    page.mouse.move(5, 5)
    page.clock.run_for(20_000)
    assert toast.count() == 0

    notify(title="focus me", users=[alice], link="/chat/")
    toast = page.locator(".toast", has_text="focus me")
    toast.locator("a.title").focus()
    page.clock.run_for(60_000)
    assert toast.is_visible()
    page.evaluate("document.activeElement.blur()")
    page.clock.run_for(20_000)
    assert toast.count() == 0

    notify(title="left alone", users=[alice])  # and one nobody touches still goes
    toast = page.locator(".toast", has_text="left alone")
    toast.wait_for()
    page.clock.run_for(20_000)
    assert toast.count() == 0


def test_a_user_added_to_a_group_gets_its_notifications_without_a_reload(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    alice = make_user("alice")
    group = Group.objects.create(name="moderators")
    page = log_in(browser, daphne_server.url, "alice", "/chat/")
    notify(title="before alice joined", group=group)

    def join_and_send() -> None:
        alice.groups.add(group)  # as the admin's user form does
        notification_services.notification_send(title="for moderators", group=group)

    off_loop(join_and_send)
    page.locator(".toast", has_text="for moderators").wait_for()
    page.wait_for_function("document.getElementById('notify-badge').dataset.count === '1'")
    assert page.locator(".toast", has_text="before alice joined").count() == 0


# ---------------------------------------------------------------- forms


def test_form_errors_are_marked_and_accounts_say_what_happened(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)

    page.goto(f"{daphne_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "not the password")
    page.click("form button[type=submit]")
    page.wait_for_selector("#login-error")
    assert page.input_value("#id_username") == "alice"  # kept
    for field in ("#id_username", "#id_password"):
        assert page.get_attribute(field, "aria-invalid") == "true"
        assert page.get_attribute(field, "aria-describedby") == "login-error"
    assert page.locator("#login-error").get_attribute("role") == "alert"
    assert_looks_like_an_error(page, "#login-error")

    page.goto(f"{daphne_server.url}/accounts/signup/")
    page.fill("#id_username", "carol")
    page.fill("#id_password1", "a-long-enough-secret-9")
    page.fill("#id_password2", "a different one")
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector(".form-error")
    assert page.get_attribute("#id_password2", "aria-invalid") == "true"
    described = page.get_attribute("#id_password2", "aria-describedby").split()
    assert "id_password2_error" in described
    assert "match" in page.text_content("#id_password2_error")
    assert page.get_attribute("#id_username", "aria-invalid") is None  # only what is wrong
    assert_looks_like_an_error(page, "#id_password2_error")
    shot(page, "signup-errors")

    page.fill("#id_password1", "a-long-enough-secret-9")
    page.fill("#id_password2", "a-long-enough-secret-9")
    page.click("form.stacked button[type=submit]")
    page.locator(".flash .flash-success", has_text="Welcome, carol").wait_for()
    page.wait_for_selector("[data-live-state=connected]")

    other_tab = page.context.new_page()
    other_tab.goto(f"{daphne_server.url}/chat/")
    other_tab.wait_for_selector("[data-live-state=connected]")
    page.click("text=Log out")
    page.locator(".flash .flash-success", has_text="You have logged out").wait_for()
    assert page.locator(".whoami").count() == 0
    # The other tab's sockets are closed; it says why and offers the way back.
    notice = other_tab.locator("#logged-out-notice")
    notice.wait_for()
    assert notice.text_content().startswith("You have been logged out. Log in again")
    assert other_tab.locator(".live-state").text_content() == "Logged out"
    page.context.close()


def assert_looks_like_an_error(page: Any, selector: str) -> None:
    """Red text (more red than green or blue), unlike the page's body text."""
    color = page.eval_on_selector(selector, "el => getComputedStyle(el).color")
    red, green, blue = (int(part) for part in color[color.index("(") + 1 : -1].split(",")[:3])
    assert red > green + 60, color
    assert red > blue + 60, color
    body = page.evaluate("getComputedStyle(document.body).color")
    assert color != body


# ---------------------------------------------------------------- phone and dark


def test_the_phone_layout(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice", is_staff=True)
    room = make_room()
    page = phone_page(browser, daphne_server, "alice", f"/chat/{room.slug}/")

    # The navigation is one row: the brand, the connection state and a menu button.
    bar = page.locator(".topbar").bounding_box()
    menu_button = page.locator(".menu-toggle")
    assert bar["height"] < 70
    assert page.locator("nav[aria-label=Main]").is_hidden()
    menu_button.click()
    assert menu_button.get_attribute("aria-expanded") == "true"
    menu = page.locator("#site-menu")
    for link in ("Chat rooms", "Play", "Notifications", "Admin", "Log out"):
        assert menu.get_by_text(link).first.is_visible(), link
    page.keyboard.press("Escape")
    assert page.locator("nav[aria-label=Main]").is_hidden()
    assert menu_button.get_attribute("aria-expanded") == "false"

    # In a room: the messages and the composer fill the screen; the online list waits
    # behind a button.
    messages = page.locator("#messages").bounding_box()
    composer = page.locator("#composer").bounding_box()
    assert messages["height"] > 300
    assert composer["y"] + composer["height"] <= PHONE["height"]
    assert page.locator("#people").is_hidden()
    toggle = page.locator(".online-toggle")
    page.wait_for_function("document.getElementById('online-toggle-count').textContent === '1'")
    toggle.click()
    assert page.locator("#people").is_visible()
    assert page.locator("#online li", has_text="alice").is_visible()
    shot(page, "phone-room-online")
    page.keyboard.press("Escape")
    assert page.locator("#people").is_hidden()
    assert_nothing_clipped(page)


def phone_page(browser: Any, server: Daphne, username: str, path: str, **options: Any) -> Any:
    return log_in(browser, server.url, username, path, viewport=PHONE, **options)


def assert_nothing_clipped(page: Any) -> None:
    """No page-wide sideways scroll, and no text cut off inside a box that hides it (but
    for a line cut with an ellipsis whose whole text is its title, as a phone's room
    title, and text hidden on purpose: visually-hidden, or clipped away as a grouped
    message's author line)."""
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter((el) => {
          const style = getComputedStyle(el);
          if (style.overflowX !== 'hidden' || el.closest('.visually-hidden')) return false;
          if (style.position === 'absolute' && style.clip !== 'auto') return false;
          // Hidden the same way on purpose (a grouped message's author and time).
          if (el.clientWidth <= 1 && style.position === 'absolute') return false;
          if (style.textOverflow === 'ellipsis' && el.title === el.textContent) return false;
          return el.scrollWidth > el.clientWidth + 1;
        }).map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert clipped == [], clipped


def test_the_dark_scheme_follows_the_system(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    luminance = (
        "(color) => { const [r, g, b] = color.match(/\\d+/g).map(Number);"
        " return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; }"
    )
    for scheme, dark in (("light", False), ("dark", True)):
        page = phone_page(browser, daphne_server, "alice", "/chat/", color_scheme=scheme)
        background = page.evaluate(
            f"({luminance})(getComputedStyle(document.body).backgroundColor)"
        )
        text = page.evaluate(f"({luminance})(getComputedStyle(document.body).color)")
        assert (background < 0.2) is dark, scheme
        assert (text > 0.8) is dark, scheme
        shot(page, f"rooms-{scheme}")
        page.context.close()


# ---------------------------------------------------------------- axe on every page


def axe_problems(page: Any, where: str) -> list[str]:
    """axe-core's critical and serious violations on the page as it is now, in each
    scheme and at each width (one page load: the media and the viewport change under
    it), and at the phone width anything cut off."""
    from axe_playwright_python.sync_playwright import Axe

    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(Axe().axe_script)  # the axe-core the package bundles
        # Colours that fade from one scheme to the other would be measured halfway.
        page.add_style_tag(content="*, *::before, *::after { transition: none !important; }")
    found = []
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            found += [
                f"{scheme} {viewport['width']}px {where}: {violation['id']} "
                f"({violation['impact']}): "
                + "; ".join(node["html"][:120] for node in violation["nodes"][:3])
                for violation in results["violations"]
                if violation["impact"] in ("critical", "serious")
            ]
        if viewport is PHONE and "/admin/" not in page.url:
            assert_nothing_clipped(page)  # the admin scrolls its own tables sideways
    return found


def test_axe_finds_nothing_serious_on_any_page_in_either_scheme_or_width(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    alice = make_user("alice", is_staff=True, is_superuser=True)
    bob = make_user("bob")
    room = make_room(title="General", description="Anything goes.")
    hello = off_loop(
        lambda: chat_services.message_post(
            room=room, author=bob, body="hello @alice, see https://example.com"
        )
    )
    # A reply: the room page shows its quote.
    off_loop(
        lambda: chat_services.message_post(
            room=room, author=alice, body="hi bob", reply_to=hello.pk
        )
    )

    # An image and a file in the room: its thumbnails and downloads, and the admin's.
    def share() -> Any:
        shared = [
            chat_services.attachment_upload(
                room=room, user=bob, upload=SimpleUploadedFile(name, data), name=name
            )
            for name, data in (("photo.png", png(600, 400)), ("notes.txt", b"plans\n"))
        ]
        chat_services.message_post(
            room=room, author=bob, body="", attachments=[a.pk for a in shared]
        )
        return shared[0]

    attachment = off_loop(share)
    # Muted for a day: the room page's muted composer, and the mute's admin pages.
    mute = off_loop(
        lambda: chat_services.user_mute(
            room=room, user=alice, reason="flooding", expires_at=timezone.now() + timedelta(days=1)
        )
    )
    # Notifications from the room muted: its page offers to unmute.
    off_loop(lambda: chat_services.room_notifications_mute(room=room, user=alice, muted=True))
    notify(title="Welcome", body="Glad you are here.", users=[alice], level="success")
    notify(title="Maintenance tonight", users=[alice], level="warning")
    game = off_loop(lambda: game_services.game_create(user=alice))
    off_loop(lambda: game_services.game_join(game_id=game.pk, user=bob))
    arena = off_loop(lambda: game_services.arena_create(user=bob))
    # Leaderboard rows in both tables (wide on a phone).
    finished = off_loop(lambda: game_services.game_create(user=bob))
    off_loop(lambda: game_services.game_join(game_id=finished.pk, user=alice))
    off_loop(lambda: game_services.game_resign(game_id=finished.pk, user=bob))
    round_id = off_loop(
        lambda: game_services.arena_round_start(arena_id=arena.pk, number=1, seed=1)
    )
    off_loop(
        lambda: game_services.arena_round_finish(
            round_id=round_id,
            ticks=10,
            results=[
                {"player": who.pk, "score": 3, "length": 6, "kills": 1, "deaths": 2}
                for who in (alice, bob)
            ],
            by_staff=False,
        )
    )
    signed_in = [
        "/chat/",
        f"/chat/{room.slug}/",
        "/chat/search/?q=hello",
        "/notifications/",
        "/notifications/settings/",
        "/game/",
        f"/game/{game.pk}/",
        f"/game/arena/{arena.pk}/?play=1",
        "/game/leaderboard/",
        # Staff pages: the admin's own markup, with the mends of static/rtsite/admin.js.
        "/admin/",
        "/admin/chat/room/",
        f"/admin/chat/room/{room.pk}/change/",
        "/admin/chat/message/",
        "/admin/chat/mute/",
        "/admin/chat/attachment/",
        f"/admin/chat/attachment/{attachment.pk}/change/",
        f"/admin/chat/mute/{mute.pk}/change/",
        "/admin/notifications/notification/",
        "/admin/notifications/notification/add/",
        "/admin/game/game/",
        f"/admin/game/game/{game.pk}/change/",
        "/admin/game/arena/",
        f"/admin/game/arena/{arena.pk}/change/",
        f"/admin/auth/user/{alice.pk}/change/",
    ]
    anonymous = [
        "/accounts/login/",
        "/accounts/signup/",
        f"/chat/{room.slug}/",
        "/game/",
        f"/game/arena/{arena.pk}/",
        # An email's unsubscribe link (asking first), and one that is not valid.
        f"/notifications/unsubscribe/{unsubscribe_token(user_id=bob.pk, kinds=['mention'])}/",
        "/notifications/unsubscribe/not-a-token/",
    ]
    problems: list[str] = []
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    for path in anonymous:
        page.goto(f"{daphne_server.url}{path}")
        problems += axe_problems(page, f"{path} (logged out)")
    page.goto(f"{daphne_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wrong")
    page.click("form button[type=submit]")
    page.wait_for_selector("#login-error")
    problems += axe_problems(page, "login error")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/chat/")
    for path in signed_in:
        page.goto(f"{daphne_server.url}{path}")
        if not path.startswith("/admin/"):
            page.wait_for_selector("[data-live-state=connected]")
        problems += axe_problems(page, path)
    # The phone layout's open menu and online list.
    page.goto(f"{daphne_server.url}/chat/{room.slug}/")
    page.wait_for_selector("[data-live-state=connected]")
    page.set_viewport_size(PHONE)
    page.click(".menu-toggle")
    page.click(".online-toggle")
    problems += [p for p in axe_problems(page, "open panels") if " 390px " in p]
    page.context.close()
    assert problems == [], "\n".join(problems)
