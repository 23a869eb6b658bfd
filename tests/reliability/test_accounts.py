"""Authorization holds after connect: logout and deactivation close sockets, a removed
account is refused at its next action, and one user cannot open sockets without limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from chat.models import Room
from game import services as game_services
from tests.conftest import open_socket

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
