from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from chat.models import Membership, Room

pytestmark = pytest.mark.django_db

XSS = "<img src=x onerror=alert(1)>"


def test_room_list_and_room_page_escape_user_text(
    client: Client, make_room: Callable[..., Room]
) -> None:
    room = make_room(title=XSS, description=XSS)
    listing = client.get("/chat/").content.decode()
    assert XSS not in listing
    assert "&lt;img src=x onerror=alert(1)&gt;" in listing
    page = client.get(room.get_absolute_url())
    assert page.status_code == 200
    assert XSS not in page.content.decode()
    assert client.get("/chat/no-such-room/").status_code == 404


def test_home_redirects_to_rooms(client: Client) -> None:
    assert client.get("/")["Location"] == "/chat/"


@override_settings(CHAT_ANONYMOUS_READ=False)
def test_private_reading_sends_visitors_to_login(
    client: Client, make_room: Callable[..., Room]
) -> None:
    reply = client.get(make_room().get_absolute_url())
    assert reply.status_code == 302
    assert reply["Location"].startswith("/accounts/login/")


def test_signup_login_logout(client: Client) -> None:
    reply = client.post(
        "/accounts/signup/",
        {"username": "newbie", "password1": "a-long-pass-123", "password2": "a-long-pass-123"},
    )
    assert reply.status_code == 302
    assert get_user_model().objects.filter(username="newbie").exists()
    assert "Signed in as" in client.get("/chat/").content.decode()
    client.post("/accounts/logout/")
    assert "Log in" in client.get("/chat/").content.decode()
    assert client.login(username="newbie", password="a-long-pass-123")


def test_signup_errors_are_shown(client: Client, make_user: Callable[..., Any]) -> None:
    make_user("taken")
    reply = client.post(
        "/accounts/signup/", {"username": "taken", "password1": "x", "password2": "y"}
    )
    assert reply.status_code == 200
    assert "already exists" in reply.content.decode()


def test_a_room_that_prunes_says_so_and_one_that_keeps_all_does_not(
    client: Client, make_room: Callable[..., Room]
) -> None:
    ten = make_room(retention=10)
    assert (
        "This room keeps the newest 10 messages."
        in client.get(ten.get_absolute_url()).content.decode()
    )
    forever = make_room()
    assert "This room keeps" not in client.get(forever.get_absolute_url()).content.decode()


@pytest.mark.django_db(transaction=True)
def test_search_page_finds_in_a_room_or_everywhere_and_links_in_context(
    client: Client, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    from chat import services

    author = make_user("writer")
    general, ops = make_room(title="General"), make_room(title="Ops")
    hit = services.message_post(room=general, author=author, body=f"deploy plan {XSS}")
    services.message_post(room=ops, author=author, body="deploy done")
    page = client.get("/chat/search/", {"q": "deploy"}).content.decode()
    assert f'href="/chat/{general.slug}/#m{hit.pk}"' in page
    assert "deploy done" in page
    assert XSS not in page  # user text is escaped in results too
    scoped = client.get("/chat/search/", {"q": "deploy", "room": ops.slug}).content.decode()
    assert "deploy done" in scoped
    assert "deploy plan" not in scoped
    assert (
        "No messages with that word"
        in client.get("/chat/search/", {"q": "absent"}).content.decode()
    )
    assert client.get("/chat/search/", {"q": "x", "room": "nowhere"}).status_code == 404
    with override_settings(CHAT_SEARCH_PAGE_SIZE=1):
        first = client.get("/chat/search/", {"q": "deploy"}).content.decode()
        assert "Older results" in first


def test_a_user_makes_a_room_and_owns_it(make_user: Callable[..., Any]) -> None:
    client = Client()
    client.force_login(make_user("maker"))
    assert client.get("/chat/new/").status_code == 200
    reply = client.post("/chat/new/", {"title": "Book club", "private": "on"})
    assert reply.status_code == 302
    room = Room.objects.get(title="Book club")
    assert reply["Location"] == f"/chat/{room.slug}/"
    # A private room's slug ends in a random part: its title does not take the plain one.
    assert re.fullmatch(r"book-club-[0-9a-f]{12}", room.slug)
    assert room.private
    assert Membership.objects.get(room=room).role == "owner"
    public = client.post("/chat/new/", {"title": "Book club"})
    assert public["Location"] == "/chat/book-club/"
    again = client.post("/chat/new/", {"title": "Book club"})
    assert again["Location"] == "/chat/book-club-2/"  # a title taken: numbered
    refused = client.post("/chat/new/", {"title": "   "})
    assert refused.status_code == 200
    assert "This field is required." in refused.content.decode()


def test_making_rooms_is_limited_and_can_be_left_to_staff(make_user: Callable[..., Any]) -> None:
    client = Client()
    client.force_login(make_user("maker"))
    assert Client().get("/chat/new/").status_code == 302  # a visitor logs in first
    with override_settings(CHAT_ROOMS_PER_HOUR=1):
        assert client.post("/chat/new/", {"title": "One"}).status_code == 302
        page = client.post("/chat/new/", {"title": "Two"})
        assert page.status_code == 200
        assert "You have made many rooms lately. Try again in" in page.content.decode()
    with override_settings(CHAT_ROOM_CREATORS="staff"):
        assert client.get("/chat/new/").status_code == 403
        assert "New room" not in client.get("/chat/").content.decode()
