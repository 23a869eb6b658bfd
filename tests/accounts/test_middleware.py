"""Failed logins lock an account or an address for a while; signups are throttled per
client address; both across processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-for-tests-only"  # tests.conftest.make_user's


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    cache.clear()


def login(client: Client, username: str, password: str = "wrong", *, admin: bool = False) -> Any:  # noqa: S107
    return client.post(
        reverse("admin:login" if admin else "login"), {"username": username, "password": password}
    )


def test_successful_logins_are_not_counted(settings: Any, make_user: Callable[..., Any]) -> None:
    """An office behind one address is not locked out by its own people logging in."""
    settings.LOGIN_FAILURE_LIMITS = {"account": (2, 300), "address": (2, 300)}
    make_user("alice")
    for _ in range(10):
        assert login(Client(REMOTE_ADDR="10.0.0.9"), "alice", PASSWORD).status_code == 302


def test_failures_lock_the_account_from_any_address(
    settings: Any, make_user: Callable[..., Any]
) -> None:
    settings.LOGIN_FAILURE_LIMITS = {"account": (3, 300), "address": (100, 300)}
    user = make_user("alice")
    make_user("bob")
    here, elsewhere = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    for _ in range(3):
        assert login(here, "alice").status_code == 200  # the form again, with its error
    refused = login(elsewhere, "Alice", PASSWORD)  # any case: the same account
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 300
    page = refused.content.decode()
    assert "Too many failed attempts for this account. Try again in 5 minutes." in page
    assert f'href="{reverse("login")}"' in page
    # The admin's login counts and refuses alike; other accounts are not affected.
    assert login(here, "alice", PASSWORD, admin=True).status_code == 429
    assert login(here, "bob", PASSWORD).status_code == 302
    # Reading the pages is never refused.
    assert here.get(reverse("login")).status_code == 200
    assert "_auth_user_id" not in elsewhere.session
    assert user.pk


def test_failures_from_one_address_over_many_accounts_lock_the_address(
    settings: Any, make_user: Callable[..., Any]
) -> None:
    settings.LOGIN_FAILURE_LIMITS = {"account": (100, 300), "address": (4, 300)}
    make_user("alice")
    here = Client(REMOTE_ADDR="10.0.0.3")
    for name in ("one", "two", "three", "four"):
        assert login(here, name).status_code == 200
    refused = login(here, "alice", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed login attempts from your network." in refused.content.decode()
    assert login(Client(REMOTE_ADDR="10.0.0.4"), "alice", PASSWORD).status_code == 302


def test_a_success_clears_the_accounts_count(settings: Any, make_user: Callable[..., Any]) -> None:
    settings.LOGIN_FAILURE_LIMITS = {"account": (3, 300), "address": (100, 300)}
    make_user("alice")
    here = Client(REMOTE_ADDR="10.0.0.5")
    for _ in range(2):
        login(here, "alice")
    assert login(here, "alice", PASSWORD).status_code == 302
    for _ in range(2):
        assert login(Client(REMOTE_ADDR="10.0.0.5"), "alice").status_code == 200
    assert login(Client(REMOTE_ADDR="10.0.0.5"), "alice", PASSWORD).status_code == 302


def test_signups_per_address(settings: Any) -> None:
    settings.AUTH_THROTTLE = {**settings.AUTH_THROTTLE, "signup": (2, 3600)}
    client = Client(REMOTE_ADDR="10.0.0.3")
    for name in ("one", "two"):
        data = {"username": name, "password1": "a-fine-pw-8841", "password2": "a-fine-pw-8841"}
        assert Client(REMOTE_ADDR="10.0.0.3").post(reverse("signup"), data).status_code == 302
    data = {"username": "three", "password1": "a-fine-pw-8841", "password2": "a-fine-pw-8841"}
    assert client.post(reverse("signup"), data).status_code == 429
    assert not get_user_model().objects.filter(username="three").exists()
