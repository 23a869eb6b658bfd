"""Thousands of generated bad frames per socket type: each answered with an error frame,
no exception escapes or is logged, and the socket stays usable."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import protocol as chat_protocol
from chat.models import Room
from game import protocol as game_protocol
from game import services as game_services
from notifications import protocol as notification_protocol
from realtime.errors import ActionError
from realtime.protocol import ClientFrames, parse_frame
from tests.conftest import open_socket, session_cookie
from tests.reliability import badframes
from tests.reliability.figures import report

# `make chaos` sets RT_FUZZ_FRAMES=10000; CI runs a smaller, equally varied sample.
FRAMES_PER_SOCKET = int(os.environ.get("RT_FUZZ_FRAMES", "2000"))

REGISTRIES: dict[str, ClientFrames] = {
    "chat room": chat_protocol.ROOM_CLIENT_FRAMES,
    "chat list": chat_protocol.LOBBY_CLIENT_FRAMES,
    "notifications": notification_protocol.CLIENT_FRAMES,
    "game lobby": game_protocol.LOBBY_CLIENT_FRAMES,
    "game": game_protocol.GAME_CLIENT_FRAMES,
}


@pytest.mark.parametrize("name", sorted(REGISTRIES))
def test_the_parser_refuses_every_bad_frame_with_an_action_error(name: str) -> None:
    frames = REGISTRIES[name]

    @settings(
        max_examples=FRAMES_PER_SOCKET // 2,
        deadline=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        text = data.draw(badframes.bad_frames(frames))
        with pytest.raises(ActionError):
            parse_frame(text, frames)

    check()


@pytest.fixture
def paths(make_user: Callable[..., Any], make_room: Callable[..., Room]) -> dict[str, str]:
    red, yellow = make_user(), make_user()
    game = game_services.game_create(user=red)
    game_services.game_join(game_id=game.pk, user=yellow)
    return {
        "chat room": f"/ws/chat/{make_room().slug}/",
        "chat list": "/ws/chat/",
        "notifications": "/ws/notifications/",
        "game lobby": "/ws/game/lobby/",
        "game": f"/ws/game/{game.pk}/",
        "cookie": session_cookie(red),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(REGISTRIES))
async def test_a_socket_answers_each_bad_frame_and_stays_usable(
    name: str, paths: dict[str, str], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RT_RATE_LIMIT_PER_SECOND = 1e9
    settings.RT_RATE_LIMIT_BURST = 10**9
    caplog.set_level(logging.WARNING)
    frames = REGISTRIES[name]
    errors: dict[str, int] = {}
    async with open_socket(paths[name], cookie=paths["cookie"]) as ws:
        first = await ws.next("sync" if name != "chat list" else "rooms")
        assert first
        for i, text in enumerate(badframes.stream(frames, FRAMES_PER_SOCKET, seed=len(name))):
            await ws.send(text)
            frame = await ws.next("error")
            errors[frame["code"]] = errors.get(frame["code"], 0) + 1
            if i % 500 == 0:
                await ws.usable()
        await ws.usable()
        await ws.nothing("error", within=0.2)  # exactly one error per frame
    assert sum(errors.values()) == FRAMES_PER_SOCKET
    assert "internal_error" not in errors, errors
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    report(
        f"[fuzz {name}] {FRAMES_PER_SOCKET} bad frames, errors by code: "
        + json.dumps(errors, sort_keys=True)
    )
