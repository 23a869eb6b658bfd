"""A connect storm of logged-in users only gets slower: every socket joins at its first
attempt, on one daphne process.

daphne drops a handshake the application has not accepted within its
``websocket_connect_timeout`` (5 s by default). Sockets are accepted before the slow
part of connecting (the session, the account, presence, history), so however long the
queue of that work, no handshake misses the deadline. `make chaos` storms with 1,000
sockets at daphne's default; CI 400 against a shorter deadline, which the serialized
work of that many connects would miss as surely.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore

from chat.models import Room
from tests.conftest import Daphne, start_daphne, ws_connect, ws_next
from tests.reliability.figures import report

pytestmark = pytest.mark.django_db(transaction=True)

CHAOS = os.environ.get("RT_CHAOS") == "1"
SOCKETS = 1000 if CHAOS else 400
# daphne's own default at full size; in CI a deadline that the serialized work of the
# CI storm exceeds (checks before the accept lost a third of its sockets).
CONNECT_TIMEOUT = "5" if CHAOS else "2"  # whole seconds (daphne's option)


@pytest.fixture
def storm_server(django_db_setup: None, tmp_path: Path) -> Iterator[Daphne]:
    server = start_daphne(
        tmp_path,
        # The queue itself is tested here; shedding past a wait (test_shed.py) is off.
        env={"LOG_LEVEL": "WARNING", "RT_CONNECT_SHED_SECONDS": "0"},
        args=("--websocket_connect_timeout", CONNECT_TIMEOUT),
    )
    yield server
    server.stop()


def logged_in_sessions(count: int) -> list[str]:
    """Session cookies of ``count`` distinct users (made in bulk: no password hashing)."""
    tag = uuid.uuid4().hex[:6]
    users = get_user_model().objects.bulk_create(
        [
            get_user_model()(username=f"storm{tag}-{i}", password=make_password(None))
            for i in range(count)
        ]
    )
    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


async def test_a_storm_of_logged_in_sockets_all_join_at_the_first_attempt(
    storm_server: Daphne, make_room: Callable[..., Room]
) -> None:
    room = await database_sync_to_async(make_room)()
    cookies = await database_sync_to_async(logged_in_sessions)(SOCKETS)
    path = f"/ws/chat/{room.slug}/"
    start = time.monotonic()

    async def join(cookie: str) -> tuple[Any, float]:
        ws = await ws_connect(storm_server, path, cookie)
        sync = await ws_next(ws, "sync", timeout=300)
        assert sync["me"] is not None  # joined as the logged-in user
        return ws, time.monotonic() - start

    results = await asyncio.gather(*(join(c) for c in cookies), return_exceptions=True)
    joined = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    for ws, _ in joined:
        await ws.close()
    times = sorted(t for _, t in joined)
    report(
        f"[storm] {SOCKETS} logged-in sockets at once on one process "
        f"(connect timeout {CONNECT_TIMEOUT} s): {len(joined)} joined at the first attempt, "
        f"{len(failed)} failed; all synced after {times[-1] if times else 0:.2f} s "
        f"(p50 {times[len(times) // 2] if times else 0:.2f} s)"
    )
    assert not failed, sorted({repr(error)[:200] for error in failed})
