"""Accounts in Chromium: sign-up says every problem at once and checks as you type;
failed logins, not successful ones, lock an account or an address for a while, and the
429 page says when and links back; a typed logout address offers the button; the
admin's notification form asks for an audience without a blank one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from common.redis import get_redis
from tests.conftest import Daphne, start_daphne
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_site import axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def new_page(browser: Any, **options: Any) -> Any:
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(15_000)
    return page


def submit_login(page: Any, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/accounts/login/?next=/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.stacked button[type=submit]")
    page.wait_for_load_state("load")


# ---------------------------------------------------------------- sign-up (point 9)


def test_sign_up_says_every_problem_at_once_and_checks_as_you_type(
    browser: Any, daphne_server: Daphne
) -> None:
    page = new_page(browser)
    page.goto(f"{daphne_server.url}/accounts/signup/")

    def rule(name: str) -> Any:
        return page.locator(f"#id_password1_helptext li[data-rule={name}]")

    # The rules are the password's description, and say their state in words and a sign.
    assert "id_password1_helptext" in page.get_attribute("#id_password1", "aria-describedby")
    page.fill("#id_username", "carol")
    page.fill("#id_password1", "carol12")
    for name in ("length", "similar"):
        assert rule(name).get_attribute("data-state") == "false"
        assert rule(name).locator(".rule-state").text_content() == "Not yet: "
        assert rule(name).locator(".rule-sign").text_content() == "\u2717"
    assert rule("numeric").get_attribute("data-state") == "true"
    assert rule("numeric").locator(".rule-state").text_content() == "Done: "
    match = page.locator("#id_password2_helptext [data-match]")
    page.fill("#id_password2", "carol")  # so far the start of the password: not a mistake
    assert match.text_content() == ""
    page.fill("#id_password2", "carol1x")
    assert match.text_content().strip() == "It does not match the password above."
    assert axe_problems(page, "sign-up, checking") == []

    # Submitted as it is, every problem is reported at once, each at its field.
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector(".form-error")
    password_errors = page.text_content("#id_password1_error")
    assert "too short" in password_errors
    assert "too similar" in password_errors
    assert "match" in page.text_content("#id_password2_error")
    for field in ("#id_password1", "#id_password2"):
        assert page.get_attribute(field, "aria-invalid") == "true"
    assert "id_password1_error" in page.get_attribute("#id_password1", "aria-describedby")

    page.fill("#id_password1", "a-long-enough-secret-9")
    page.fill("#id_password2", "a-long-enough-secret-9")
    for name in ("length", "similar", "numeric"):
        assert rule(name).get_attribute("data-state") == "true"
    assert rule("common").get_attribute("data-state") == "null"  # the server's to say
    assert match.text_content().strip() == "It matches."
    page.click("form.stacked button[type=submit]")
    page.locator(".flash .flash-success", has_text="Welcome, carol").wait_for()
    page.context.close()


# ---------------------------------------------------------------- logins (points 10, 11)


@pytest.fixture
def strict_server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    """A server of its own with low failure limits, and no failures counted yet."""
    client = get_redis(timeout=5)
    for name in client.scan_iter(f"{settings.REDIS_KEY_PREFIX}:login-failures:*"):
        client.delete(name)
    daphne = start_daphne(
        tmp_path, env={"LOGIN_FAILURES_PER_ACCOUNT": "3", "LOGIN_FAILURES_PER_ADDRESS": "6"}
    )
    yield daphne
    daphne.stop()


def test_failed_logins_lock_the_account_while_the_office_logs_in(
    browser: Any, strict_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    make_user("bob")
    url = strict_server.url
    # One address, many successful logins (more than the old 30 per 5 minutes): none is
    # refused, because successes are not counted.
    office = new_page(browser)
    submit_login(office, url, "bob", PASSWORD)
    for _ in range(32):  # the form's POST, without drawing each page
        # A login changes the token: the cookie's, as the form's would be.
        token = next(c["value"] for c in office.context.cookies() if c["name"] == "csrftoken")
        reply = office.request.post(
            f"{url}/accounts/login/",
            form={"username": "bob", "password": PASSWORD, "csrfmiddlewaretoken": token},
            max_redirects=0,
        )
        assert reply.status == 302, reply.text()[:300]

    # Three wrong passwords for alice: the account is locked, from any browser.
    guesser = new_page(browser)
    for _ in range(3):
        submit_login(guesser, url, "alice", "not her password")
        guesser.wait_for_selector("#login-error")
    victim = new_page(browser, viewport={"width": 390, "height": 844})
    submit_login(victim, url, "alice", PASSWORD)
    assert victim.locator("h1").text_content() == "Too many attempts"
    text = " ".join(victim.locator("main p").first.text_content().split())
    assert text.startswith("Too many failed attempts for this account. Try again in ")
    assert text.endswith(" minutes.")
    assert axe_problems(victim, "too many attempts") == []
    # The way back: the login form again.
    victim.click("text=Back to the login page")
    victim.wait_for_selector("#id_username")
    assert victim.url.endswith("/accounts/login/?next=%2Faccounts%2Flogin%2F")

    # Bob, from the same address, still logs in: the lock is alice's account's.
    submit_login(office, url, "bob", PASSWORD)
    assert office.locator(".whoami strong").text_content() == "bob"
    for page in (office, guesser, victim):
        page.context.close()


def test_too_many_failures_from_one_address_lock_the_address(
    browser: Any, strict_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    page = new_page(browser)
    for name in ("ann", "ben", "cat", "dan", "eve", "fay"):  # a spray: one try each
        submit_login(page, strict_server.url, name, "password1")
    submit_login(page, strict_server.url, "alice", PASSWORD)
    assert page.locator("h1").text_content() == "Too many attempts"
    text = " ".join(page.locator("main p").first.text_content().split())
    assert text.startswith("Too many failed login attempts from your network. Try again in ")
    page.context.close()


def test_a_typed_logout_address_offers_the_button(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice")
    page = new_page(browser)
    submit_login(page, daphne_server.url, "alice", PASSWORD)
    response = page.goto(f"{daphne_server.url}/accounts/logout/")
    assert response.status == 200
    assert page.locator("h1").text_content() == "Log out"
    assert "logged in as alice" in " ".join(page.locator("main").text_content().split())
    assert axe_problems(page, "log out") == []
    page.click("main form button[type=submit]")
    page.locator(".flash .flash-success", has_text="You have logged out").wait_for()
    assert page.locator(".whoami").count() == 0
    # Logged out already: the address leads to the login page.
    page.goto(f"{daphne_server.url}/accounts/logout/")
    page.wait_for_selector("#id_username")
    assert "/accounts/login/" in page.url
    page.context.close()


# ---------------------------------------------------------------- the admin (point 12)


def test_the_notification_form_asks_for_an_audience_without_a_blank_one(
    browser: Any, daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    make_user("alice", is_staff=True, is_superuser=True)
    page = new_page(browser, viewport={"width": 1280, "height": 800})
    submit_login(page, daphne_server.url, "alice", PASSWORD)
    page.goto(f"{daphne_server.url}/admin/notifications/notification/add/")
    page.wait_for_selector(".selector")  # the two-box picker, built by the admin's script
    choices = page.locator("#id_audience label").all_text_contents()
    assert [c.strip() for c in choices] == [
        "chosen users",
        "a group",
        "all logged-in users",
        "everyone, visitors included",
    ]
    assert page.locator("#id_audience input:checked").count() == 0
    # The row's "Users:" label comes first, to the left of its picker, as other rows'.
    row = page.locator(".form-row.field-users")
    label = row.locator("label[for=id_users]")
    picker = row.locator(".selector")
    assert label.evaluate("(l, p) => !!(l.compareDocumentPosition(p) & 4)", picker.element_handle())
    label_box, picker_box = label.bounding_box(), picker.bounding_box()
    assert label_box["x"] + label_box["width"] <= picker_box["x"]
    title_label = page.locator(".form-row.field-title label").bounding_box()
    assert abs(label_box["x"] - title_label["x"]) < 2
    page.context.close()
