"""The whole site on two daphne processes sharing the database and Redis: a chat
message, a notification and a game move made through one reach sockets on the other."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Room
from game import services as game_services
from tests.conftest import Daphne, session_cookie, ws_connect, ws_next

pytestmark = pytest.mark.django_db(transaction=True)


async def test_each_live_feature_crosses_processes(
    daphne_server: Daphne,
    second_daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    one, two = daphne_server, second_daphne_server
    alice = await database_sync_to_async(make_user)()
    bob = await database_sync_to_async(make_user)()
    room = await database_sync_to_async(make_room)()
    game = await database_sync_to_async(game_services.game_create)(user=alice)
    await database_sync_to_async(game_services.game_join)(game_id=game.pk, user=bob)
    a, b = [await database_sync_to_async(session_cookie)(u) for u in (alice, bob)]
    sockets = {
        "chat on 1": await ws_connect(one, f"/ws/chat/{room.slug}/", a),
        "chat on 2": await ws_connect(two, f"/ws/chat/{room.slug}/", b),
        "inbox on 1": await ws_connect(one, "/ws/notifications/", a),
        "inbox on 2": await ws_connect(two, "/ws/notifications/", b),
        "game on 1": await ws_connect(one, f"/ws/game/{game.pk}/", a),
        "game on 2": await ws_connect(two, f"/ws/game/{game.pk}/", b),
    }
    try:
        for ws in sockets.values():
            await ws_next(ws, "sync")
        # Chat: alice on process 1, bob reads on process 2.
        await sockets["chat on 1"].send(json.dumps({"type": "message.send", "body": "@x hi bob"}))
        message = await ws_next(sockets["chat on 2"], "message")
        assert message["message"]["body"] == "@x hi bob"
        # Notification: a mention made through process 1 reaches bob's inbox on process 2.
        await sockets["chat on 1"].send(
            json.dumps({"type": "message.send", "body": f"over to you @{bob.username}"})
        )
        note = (await ws_next(sockets["inbox on 2"], "notification"))["notification"]
        assert note["title"].startswith(f"{alice.username} mentioned you")
        # Game: alice moves through process 1, bob's board on process 2 follows.
        await sockets["game on 1"].send(json.dumps({"type": "move", "column": 2}))
        while True:
            state = await ws_next(sockets["game on 2"], "state")
            if state["last"] is not None:
                break
        assert state["last"] == [0, 2]
        # And back: bob moves through process 2, alice sees it on process 1.
        await sockets["game on 2"].send(json.dumps({"type": "move", "column": 2}))
        while True:
            state = await ws_next(sockets["game on 1"], "state")
            if state["last"] == [1, 2]:
                break
    finally:
        for ws in sockets.values():
            await ws.close()
