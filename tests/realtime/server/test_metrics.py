"""/metrics: who may scrape it, and (on a real daphne process under a little load) that
the numbers an operator watches move."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from chat.models import Room
from tests.conftest import Daphne, session_cookie, ws_connect, ws_next

pytestmark = pytest.mark.django_db(transaction=True)


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310
        return reply.status


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the server at ``url`` (http://host:port), by name and labels."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:  # noqa: S310
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    return sum(
        v
        for (sample, sample_labels), v in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def test_only_local_scrapers_without_a_token(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    # Through a proxy (any header naming a client), whatever the address says: refused.
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"):
        forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: "1.2.3.4"})
        assert forwarded.status_code == 403, header


@override_settings(METRICS_TOKEN="s3cret-token")
def test_with_a_token_only_the_token(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    authorised = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert authorised.status_code == 200
    assert b"rtsite_sockets_open" in authorised.content


def test_a_worker_says_whether_it_runs_with_the_server_patches(daphne_server: Daphne) -> None:
    """1 here; 0 on a worker that refused them (tests/realtime/server/test_patches.py)."""
    assert value(scrape(daphne_server.url), "rtsite_server_patches_installed") == 1


async def test_the_numbers_move_under_load(
    daphne_server: Daphne, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    room = await database_sync_to_async(make_room)()
    cookie = await database_sync_to_async(session_cookie)(await database_sync_to_async(make_user)())
    path = f"/ws/chat/{room.slug}/"
    before = await asyncio.to_thread(scrape, daphne_server.url)
    await asyncio.to_thread(fetch, f"{daphne_server.url}/chat/{room.slug}/")
    await asyncio.to_thread(fetch, f"{daphne_server.url}/healthz/ready")
    readers = [await ws_connect(daphne_server, path) for _ in range(5)]
    for reader in readers:
        await ws_next(reader, "sync")
    writer = await ws_connect(daphne_server, path, cookie)
    await ws_next(writer, "sync")
    for n in range(5):
        await writer.send(json.dumps({"type": "message.send", "body": f"m{n}", "ref": f"r{n}"}))
        await ws_next(writer, "ack")
    for reader in readers:
        for _ in range(5):
            await ws_next(reader, "message")
    # A burst over the frame rate limit (RT_RATE_LIMIT_BURST, 20 by default).
    for _ in range(30):
        await writer.send(json.dumps({"type": "ping"}))
    error = await ws_next(writer, "error")
    assert error["code"] == "rate_limited"
    # The pings after the refusal are still being counted as the error arrives.
    for _ in range(50):
        during = await asyncio.to_thread(scrape, daphne_server.url)
        grown = value(during, "rtsite_frames_in_total", app="chat")
        if grown - value(before, "rtsite_frames_in_total", app="chat") >= 35:
            break
        await asyncio.sleep(0.05)
    for ws in [*readers, writer]:
        await ws.close()
    await asyncio.sleep(2.5)  # past a heartbeat and a database probe or two
    after = await asyncio.to_thread(scrape, daphne_server.url)

    def moved(name: str, by: float, **labels: str) -> None:
        grew = value(during, name, **labels) - value(before, name, **labels)
        assert grew >= by, f"{name}{labels} grew by {grew}, not {by}"

    assert (
        value(during, "rtsite_sockets_open", app="chat")
        - value(before, "rtsite_sockets_open", app="chat")
        == 6
    )
    moved("rtsite_sockets_opened_total", 6, app="chat")
    moved("rtsite_frames_in_total", 35, app="chat")
    moved("rtsite_frames_out_total", 5, app="chat")
    moved("rtsite_deliveries_total", 30)  # 5 messages to 6 sockets
    # Only what crossed the layer: the first message (the hub knew no cursor of the room
    # yet); the next four went straight to this process's own sockets.
    moved("rtsite_hub_event_age_seconds_count", 1)
    moved("rtsite_frames_refused_total", 1, app="chat", code="rate_limited")
    # By view and status, and the time from a post to its ack (issue 25: an operator saw
    # neither).
    moved("rtsite_http_requests_total", 1, view="chat:room_detail", status="200")
    moved("rtsite_http_request_seconds_count", 1, view="chat:room_detail")
    moved("rtsite_frame_reply_seconds_count", 5, app="chat", type="message.send")
    for component in ("database", "redis", "hub"):
        assert value(during, "rtsite_ready", component=component) == 1, component
    assert value(during, "rtsite_ready", component="draining") == 0
    assert ("rtsite_hub_events_stale_total", ()) in after
    assert ("rtsite_broadcast_failures_total", ()) in after
    assert value(after, "rtsite_sockets_open", app="chat") == value(
        before, "rtsite_sockets_open", app="chat"
    )
    assert (
        value(after, "rtsite_socket_closes_total", app="chat")
        - value(before, "rtsite_socket_closes_total", app="chat")
        == 6
    )
    assert value(after, "rtsite_redis_latency_seconds_count") > value(
        before, "rtsite_redis_latency_seconds_count"
    )
    assert value(after, "rtsite_db_latency_seconds_count") >= 1
    assert value(after, "rtsite_draining") == 0
    assert ("rtsite_arena_tick_lag_seconds_count", ()) in after
