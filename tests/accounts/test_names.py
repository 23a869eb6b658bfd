"""Names that look alike are one name: signup and the admin refuse a look-alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.names import username_skeletons

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("alice", "\u0430lice"),  # Cyrillic a
        ("alice", "ALICE"),
        ("alice", "\uff41lice"),  # fullwidth a
        ("paypal", "p\u0430yp\u0430l"),
        ("bill", "bi11"),  # l and 1
        ("Ian", "lan"),  # capital I and small l
        ("oleg", "0leg"),
        ("modern", "rnodern"),
        ("\u0391lice", "alice"),  # Greek capital alpha
    ],
)
def test_look_alikes_share_a_skeleton(one: str, other: str) -> None:
    assert set(username_skeletons(one)) & set(username_skeletons(other))


@pytest.mark.parametrize(
    ("one", "other"),
    [("alice", "alise"), ("bob", "bab"), ("ann", "anna"), ("terry", "yerry"), ("alice", "allce")],
)
def test_different_names_do_not(one: str, other: str) -> None:
    assert not set(username_skeletons(one)) & set(username_skeletons(other))


def signup(username: str) -> Any:
    return Client().post(
        reverse("signup"),
        {"username": username, "password1": "a-fine-pw-8841", "password2": "a-fine-pw-8841"},
    )


def test_signup_refuses_a_name_that_looks_like_another(make_user: Callable[..., Any]) -> None:
    make_user("alice")
    for name in ("\u0430lice", "ALICE", "\uff41lice"):
        reply = signup(name)
        assert reply.status_code == 200, name
        assert get_user_model().objects.count() == 1
    assert signup("alicia").status_code == 302
    # The new name is known at once: a look-alike of it is refused too.
    assert signup("\u0430licia").status_code == 200
    assert "looks the same" in signup("\u0430licia").content.decode()


def test_the_admin_refuses_a_look_alike_too(make_user: Callable[..., Any]) -> None:
    make_user("alice")
    bob = make_user("bob")
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    add = staff.post(
        reverse("admin:auth_user_add"),
        {"username": "\u0430lice", "password1": "a-fine-pw-8841", "password2": "a-fine-pw-8841"},
    )
    assert add.status_code == 200
    assert "looks the same" in add.content.decode()
    change = staff.get(reverse("admin:auth_user_change", args=[bob.pk]))
    assert change.status_code == 200
    form = change.context["adminform"].form
    data = {**form.initial, "username": "\u0430lice", "date_joined_0": "2026-01-01"}
    data = {k: v for k, v in data.items() if v is not None and not isinstance(v, list)}
    reply = staff.post(reverse("admin:auth_user_change", args=[bob.pk]), data)
    assert "looks the same" in reply.content.decode()
    bob.refresh_from_db()
    assert bob.username == "bob"
