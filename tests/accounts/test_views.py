"""The site's own pages: login, signup and logout say what happened; the favicon."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failed_login_keeps_the_username_and_marks_the_fields(
    make_user: Callable[..., Any],
) -> None:
    make_user("alice")
    page = Client().post(reverse("login"), {"username": "alice", "password": "wrong"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="alice"' in html
    assert html.count('aria-invalid="true" aria-describedby="login-error"') == 2  # both
    assert 'id="login-error" role="alert"' in html
    assert 'aria-invalid="true" aria-describedby="login-error" autofocus' in html  # password


def test_signup_and_logout_say_what_happened(make_user: Callable[..., Any]) -> None:
    client = Client()
    signed_up = client.post(
        reverse("signup"),
        {"username": "carol", "password1": PASSWORD + "x", "password2": PASSWORD + "x"},
        follow=True,
    )
    shown = [(m.level_tag, str(m)) for m in get_messages(signed_up.wsgi_request)]
    assert shown == [("success", "Welcome, carol! Your account is ready and you are logged in.")]
    assert 'class="flash-success"' in signed_up.content.decode()

    logged_out = client.post(reverse("logout"), follow=True)
    assert logged_out.redirect_chain[-1][0] == reverse("chat:room_list")
    assert "You have logged out." in logged_out.content.decode()
    assert "_auth_user_id" not in client.session


def test_signup_errors_are_linked_to_their_fields() -> None:
    page = Client().post(
        reverse("signup"), {"username": "dave", "password1": "one-secret-9x", "password2": "other"}
    )
    html = page.content.decode()
    assert 'class="form-error" role="alert"' in html
    assert 'id="id_password2_error"' in html
    assert 'aria-invalid="true" aria-describedby="id_password2_helptext id_password2_error"' in html


def test_the_favicon() -> None:
    client = Client()
    assert 'rel="icon" href="/static/rtsite/favicon.svg"' in client.get("/accounts/login/").text
    redirect = client.get("/favicon.ico")
    assert (redirect.status_code, redirect["Location"]) == (301, "/static/rtsite/favicon.svg")
