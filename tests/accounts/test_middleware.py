"""Login and signup attempts are throttled per client address, across processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    cache.clear()


def test_login_attempts_per_address(settings: Any, make_user: Callable[..., Any]) -> None:
    settings.AUTH_THROTTLE = {**settings.AUTH_THROTTLE, "login": (3, 300)}
    user = make_user("alice")
    here, elsewhere = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    for _ in range(3):
        assert (
            here.post(reverse("login"), {"username": "alice", "password": "no"}).status_code == 200
        )
    refused = here.post(reverse("login"), {"username": "alice", "password": "pw-for-tests-only"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many attempts" in refused.content.decode()
    # The admin's login shares the count; another address is not affected.
    assert here.post(reverse("admin:login"), {"username": "x", "password": "y"}).status_code == 429
    reply = elsewhere.post(reverse("login"), {"username": "alice", "password": "pw-for-tests-only"})
    assert reply.status_code == 302
    assert elsewhere.session["_auth_user_id"] == str(user.pk)
    # Reading the pages is never throttled.
    assert here.get(reverse("login")).status_code == 200


def test_signups_per_address(settings: Any) -> None:
    settings.AUTH_THROTTLE = {**settings.AUTH_THROTTLE, "signup": (2, 3600)}
    client = Client(REMOTE_ADDR="10.0.0.3")
    for name in ("one", "two"):
        data = {"username": name, "password1": "a-fine-pw-8841", "password2": "a-fine-pw-8841"}
        assert Client(REMOTE_ADDR="10.0.0.3").post(reverse("signup"), data).status_code == 302
    data = {"username": "three", "password1": "a-fine-pw-8841", "password2": "a-fine-pw-8841"}
    assert client.post(reverse("signup"), data).status_code == 429
    assert not get_user_model().objects.filter(username="three").exists()
