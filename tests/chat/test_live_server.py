"""A real daphne process, real WebSocket clients (the websockets package), and a
separate manage.py process publishing through the shared Redis server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from websockets.exceptions import InvalidStatus

from chat.models import Room
from tests.conftest import Daphne, manage
from tests.conftest import ws_connect as connect
from tests.conftest import ws_next as next_frame

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(make_room: Callable[..., Room]) -> Room:
    return make_room(retention=0)


async def test_two_users_chat_through_daphne(
    daphne_server: Daphne,
    room: Room,
    make_user: Callable[..., Any],
    login_cookie: Callable[[Any], str],
) -> None:
    cookies = [
        await database_sync_to_async(login_cookie)(await database_sync_to_async(make_user)(name))
        for name in ("ann", "ben")
    ]
    ann = await connect(daphne_server, f"/ws/chat/{room.slug}/", cookies[0])
    ben = await connect(daphne_server, f"/ws/chat/{room.slug}/", cookies[1])
    try:
        assert (await next_frame(ann, "sync"))["me"]["username"] == "ann"
        await next_frame(ben, "sync")
        await ann.send(json.dumps({"type": "message.send", "body": "hello ben"}))
        received = await next_frame(ben, "message")
        assert received["message"]["body"] == "hello ben"
        assert received["message"]["author"]["username"] == "ann"
        # Bad input over the real server: an error frame, and the socket stays usable.
        await ben.send("{broken")
        assert (await next_frame(ben, "error"))["code"] == "bad_json"
        await ben.send(json.dumps({"type": "ping", "ref": "p"}))
        assert (await next_frame(ben, "pong"))["ref"] == "p"
    finally:
        await ann.close()
        await ben.close()


async def test_cross_origin_refused_by_daphne(daphne_server: Daphne, room: Room) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(daphne_server, f"/ws/chat/{room.slug}/", origin="http://evil.example")
    assert refused.value.response.status_code == 403


async def test_message_from_another_process_reaches_daphne_socket(
    daphne_server: Daphne, room: Room, make_user: Callable[..., Any]
) -> None:
    await database_sync_to_async(make_user)("operator")
    listener = await connect(daphne_server, f"/ws/chat/{room.slug}/")
    try:
        await next_frame(listener, "sync")
        result = await asyncio.to_thread(
            manage, "post_message", room.slug, "--user", "operator", "--body", "from the CLI"
        )
        assert "Posted message" in result.stdout
        frame = await next_frame(listener, "message")
        assert frame["message"]["body"] == "from the CLI"
    finally:
        await listener.close()
