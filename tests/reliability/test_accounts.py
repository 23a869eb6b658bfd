"""Authorization holds after connect: logout and deactivation close sockets, a removed
account is refused at its next action, and one user cannot open sockets without limit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from chat.models import Room
from game import services as game_services
from tests.conftest import Daphne, open_socket, ws_connect, ws_next

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(user: Any) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return client, f"{name}={client.cookies[name].value}"


async def closed_with(ws: Any, code: int) -> dict[str, Any]:
    """The socket's `closing` frame, then its close with ``code``."""
    frame = await ws.next("closing")
    with pytest.raises(AssertionError, match=f"closed with {code}"):
        await ws.next("never")
    return frame


async def test_logout_closes_that_sessions_sockets_only(
    make_user: Callable[..., Any], make_room: Callable[..., Room]
) -> None:
    user = await database_sync_to_async(make_user)()
    room = await database_sync_to_async(make_room)()
    (laptop, laptop_cookie), (_phone, phone_cookie) = [
        await database_sync_to_async(logged_in)(user) for _ in range(2)
    ]
    async with (
        open_socket(f"/ws/chat/{room.slug}/", cookie=laptop_cookie) as chat,
        open_socket("/ws/notifications/", cookie=laptop_cookie) as inbox,
        open_socket("/ws/notifications/", cookie=phone_cookie) as phone,
    ):
        for ws in (chat, inbox, phone):
            await ws.next("sync")
        reply = await database_sync_to_async(laptop.post)("/accounts/logout/")
        assert reply.status_code in (200, 302)
        for ws in (chat, inbox):
            assert (await closed_with(ws, 4401))["reason"] == "logged out"
        await phone.usable()


async def test_deactivation_closes_every_socket_and_refuses_the_next_action(
    make_user: Callable[..., Any], make_room: Callable[..., Room]
) -> None:
    user = await database_sync_to_async(make_user)()
    room = await database_sync_to_async(make_room)()
    _client, cookie = await database_sync_to_async(logged_in)(user)
    async with (
        open_socket(f"/ws/chat/{room.slug}/", cookie=cookie) as chat,
        open_socket("/ws/notifications/", cookie=cookie) as inbox,
    ):
        await chat.next("sync")
        await inbox.next("sync")
        # A change that sends no signal (a bulk update): the socket stays open, but the
        # next action is checked against the database.
        users = get_user_model().objects.filter(pk=user.pk)
        await database_sync_to_async(users.update)(is_active=False)
        await chat.send({"type": "message.send", "body": "still here?"})
        assert (await chat.next("error"))["code"] == "auth_required"
        # Deactivated through the model (the admin, a service): every socket closes.
        await database_sync_to_async(users.update)(is_active=True)
        fresh = await database_sync_to_async(users.get)()
        fresh.is_active = False
        await database_sync_to_async(fresh.save)()
        for ws in (chat, inbox):
            await closed_with(ws, 4401)


async def test_a_deactivated_player_cannot_move(make_user: Callable[..., Any]) -> None:
    red = await database_sync_to_async(make_user)()
    yellow = await database_sync_to_async(make_user)()
    game = await database_sync_to_async(game_services.game_create)(user=red)
    await database_sync_to_async(game_services.game_join)(game_id=game.pk, user=yellow)
    _client, cookie = await database_sync_to_async(logged_in)(red)
    async with open_socket(f"/ws/game/{game.pk}/", cookie=cookie) as ws:
        await ws.next("sync")
        users = get_user_model().objects.filter(pk=red.pk)
        await database_sync_to_async(users.update)(is_active=False)
        for frame in ({"type": "move", "column": 3}, {"type": "resign"}):
            await ws.send(frame)
            assert (await ws.next("error"))["code"] == "auth_required"


async def test_sockets_per_user_are_capped(make_user: Callable[..., Any], settings: Any) -> None:
    settings.RT_MAX_SOCKETS_PER_USER = 3
    user = await database_sync_to_async(make_user)()
    _client, cookie = await database_sync_to_async(logged_in)(user)
    async with (
        open_socket("/ws/notifications/", cookie=cookie) as one,
        open_socket("/ws/notifications/", cookie=cookie),
        open_socket("/ws/game/lobby/", cookie=cookie),
    ):
        await one.next("sync")
        with pytest.raises(AssertionError, match="closed with 4429"):
            async with open_socket("/ws/notifications/", cookie=cookie) as fourth:
                await fourth.next("sync")
        # Visitors are not counted per user.
        async with open_socket("/ws/notifications/") as visitor:
            await visitor.next("sync")
    # Closing sockets frees the places.
    async with open_socket("/ws/notifications/", cookie=cookie) as again:
        await again.next("sync")


def password_login(user: Any) -> tuple[Client, str]:
    """A session made by logging in with the password, as a browser does."""
    client = Client()
    assert client.login(username=user.username, password="pw-for-tests-only")
    name = django_settings.SESSION_COOKIE_NAME
    return client, f"{name}={client.cookies[name].value}"


async def closed_on_daphne(ws: Any, code: int) -> dict[str, Any]:
    frame = await ws_next(ws, "closing")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws_next(ws, "never", timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code
    return frame


async def usable_on_daphne(ws: Any) -> None:
    await ws.send(json.dumps({"type": "ping", "ref": "alive"}))
    assert (await ws_next(ws, "pong"))["ref"] == "alive"


async def test_a_password_change_closes_the_other_sessions_sockets_on_every_process(
    daphne_server: Daphne,
    second_daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    user = await database_sync_to_async(make_user)()
    room = await database_sync_to_async(make_room)()
    (s1, s1_cookie), (s2, s2_cookie) = [
        await database_sync_to_async(password_login)(user) for _ in range(2)
    ]
    chat = f"/ws/chat/{room.slug}/"
    kept = [
        await ws_connect(daphne_server, chat, s1_cookie),
        await ws_connect(second_daphne_server, "/ws/notifications/", s1_cookie),
    ]
    other = [
        await ws_connect(daphne_server, chat, s2_cookie),
        await ws_connect(daphne_server, "/ws/notifications/", s2_cookie),
        await ws_connect(second_daphne_server, "/ws/notifications/", s2_cookie),
    ]
    try:
        for ws in kept + other:
            await ws_next(ws, "sync")
        reply = await database_sync_to_async(s1.post)(
            "/accounts/password_change/",
            {
                "old_password": "pw-for-tests-only",
                "new_password1": "a-new-pw-for-tests",
                "new_password2": "a-new-pw-for-tests",
            },
        )
        assert reply.status_code == 302, reply.content[:500]
        for ws in other:
            assert (await closed_on_daphne(ws, 4401))["reason"] == "password changed"
        # S2's pages log in again; S1 goes on, on both processes, and can still post.
        assert (await database_sync_to_async(s2.get)("/notifications/")).status_code == 302
        assert (await database_sync_to_async(s1.get)("/notifications/")).status_code == 200
        for ws in kept:
            await usable_on_daphne(ws)
        await kept[0].send(json.dumps({"type": "message.send", "body": "still me", "ref": "m"}))
        assert (await ws_next(kept[0], "ack"))["ref"] == "m"
        # S1 is the same session to its sockets though Django changed its key: its
        # logout still closes them.
        await database_sync_to_async(s1.post)("/accounts/logout/")
        for ws in kept:
            assert (await closed_on_daphne(ws, 4401))["reason"] == "logged out"
    finally:
        for ws in kept + other:
            await ws.close()


async def test_a_password_set_by_staff_closes_every_socket_of_the_user(
    make_user: Callable[..., Any],
) -> None:
    user = await database_sync_to_async(make_user)()
    staff = await database_sync_to_async(make_user)(is_staff=True, is_superuser=True)
    admin, _ = await database_sync_to_async(logged_in)(staff)
    (_c1, cookie1), (_c2, cookie2) = [
        await database_sync_to_async(password_login)(user) for _ in range(2)
    ]
    _staff_client, staff_cookie = await database_sync_to_async(logged_in)(staff)
    async with (
        open_socket("/ws/notifications/", cookie=cookie1) as one,
        open_socket("/ws/notifications/", cookie=cookie2) as two,
        open_socket("/ws/notifications/", cookie=staff_cookie) as staffs,
    ):
        for ws in (one, two, staffs):
            await ws.next("sync")
        reply = await database_sync_to_async(admin.post)(
            f"/admin/auth/user/{user.pk}/password/",
            {"password1": "set-by-staff-pw", "password2": "set-by-staff-pw"},
        )
        assert reply.status_code == 302, reply.content[:500]
        for ws in (one, two):
            assert (await closed_with(ws, 4401))["reason"] == "password changed"
        await staffs.usable()  # the staff member's own sockets are not the user's
