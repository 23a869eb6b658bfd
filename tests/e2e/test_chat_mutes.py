"""Mutes lifted while the muted user's room page is open, in Chromium: staff in the admin
(the change form, delete, bulk delete) in one browser, the user in another; and a mute
that lapses by itself. The composer comes back without a reload each time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from chat import services
from chat.models import Message, Mute, Room
from tests.conftest import Daphne, own_daphne
from tests.e2e.conftest import log_in, off_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin_server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    """A server of the test's own: the admin's log names content types by id, which a
    process keeps from the first test database it saw (they are made anew for each)."""
    yield from own_daphne(tmp_path)


def muted(page: Any, room: Room, user: Any, **options: Any) -> Mute:
    mute = off_loop(lambda: services.user_mute(room=room, user=user, **options))
    page.wait_for_selector("#composer-body:disabled")
    page.locator("#composer-status", has_text="You are muted").wait_for()
    return mute


def free_again(page: Any, text: str) -> None:
    """The composer is back, says nothing of a mute, and the server takes a post."""
    page.wait_for_selector("#composer-body:enabled")
    page.wait_for_function(
        "!document.getElementById('composer-status').textContent.includes('muted')"
    )
    page.fill("#composer-body", text)
    page.press("#composer-body", "Enter")
    page.locator("#messages .message .body", has_text=text).wait_for()


def lift_by_change_form(admin: Any, admin_url: str, mute: Mute) -> None:
    """The expiry moved into the past."""
    admin.goto(f"{admin_url}{mute.pk}/change/")
    past = timezone.localtime() - timedelta(minutes=5)
    admin.fill("#id_expires_at_0", past.date().isoformat())
    admin.fill("#id_expires_at_1", past.strftime("%H:%M:%S"))
    admin.click("input[name=_save]")


def lift_by_delete(admin: Any, admin_url: str, mute: Mute) -> None:
    admin.goto(f"{admin_url}{mute.pk}/delete/")
    admin.click("input[type=submit]")


def lift_by_bulk_delete(admin: Any, admin_url: str, mute: Mute) -> None:
    admin.goto(admin_url)
    admin.check(f"input[name=_selected_action][value='{mute.pk}']")
    admin.select_option("select[name=action]", "delete_selected")
    admin.click("button[name=index]")
    admin.click("input[type=submit]")


@pytest.mark.parametrize("lift", [lift_by_change_form, lift_by_delete, lift_by_bulk_delete])
def test_staff_lift_a_mute_in_the_admin_and_the_composer_comes_back_live(
    browser: Any,
    admin_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
    lift: Callable[[Any, str, Mute], None],
) -> None:
    bob = make_user("bob")
    make_user("staff", is_staff=True, is_superuser=True)
    room = make_room(title="Lobby")
    page = log_in(browser, admin_server.url, "bob", f"/chat/{room.slug}/")
    admin = log_in(browser, admin_server.url, "staff", "/")
    admin_url = f"{admin_server.url}/admin/chat/mute/"
    mute = muted(page, room, bob)
    lift(admin, admin_url, mute)
    admin.wait_for_url(admin_url)
    free_again(page, "back to talking")
    for each in (page, admin):
        each.context.close()


def test_a_mute_that_lapses_gives_the_composer_back_when_it_does(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    bob = make_user("bob")
    room = make_room(title="Lobby")
    page = log_in(browser, daphne_server.url, "bob", f"/chat/{room.slug}/")
    until = timezone.now() + timedelta(seconds=4)
    muted(page, room, bob, expires_at=until)
    # Opened again meanwhile: the page learns the time from its sync too.
    page.reload()
    page.wait_for_selector("[data-live-state=connected]")
    page.wait_for_selector("#composer-body:disabled")
    free_again(page, "back when the mute lapsed")
    assert timezone.now() >= until
    assert Message.objects.filter(room=room, author=bob).count() == 1
    page.context.close()
