"""LOG_FORMAT=json on a real daphne process behind a proxy's headers: one JSON object a
line, the client's real address as ``client`` (X-Forwarded-For with one trusted proxy, as
behind the guide's nginx), and one socket's lines tied together by its id."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from common.logs import Outage
from tests.conftest import start_daphne, ws_connect, ws_next

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT = "203.0.113.7"


def json_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_json_lines_with_the_real_client_and_the_socket_id(
    django_db_setup: None, tmp_path: Path
) -> None:
    server = start_daphne(tmp_path, env={"LOG_FORMAT": "json", "RT_TRUSTED_PROXY_COUNT": "1"})
    try:
        forwarded = {"X-Forwarded-For": CLIENT}
        request = urllib.request.Request(f"{server.url}/chat/", headers=forwarded)  # noqa: S310
        with await asyncio.to_thread(urllib.request.urlopen, request, timeout=10) as reply:
            assert reply.status == 200
        ws = await ws_connect(server, "/ws/notifications/", headers=forwarded)
        await ws_next(ws, "sync")
        await ws.close()
        await asyncio.sleep(0.5)
    finally:
        server.stop()
    lines = json_lines(server.log)
    assert lines, server.log.read_text()[-2000:]
    page = [
        line
        for line in lines
        if line.get("logger") == "rtsite.access" and "/chat/" in line["message"]
    ]
    assert page, lines
    assert page[0]["client"] == CLIENT, page
    assert page[0]["status"] == 200
    sockets = [line for line in lines if "socket" in line["message"] and line.get("socket_id")]
    opened = [line for line in sockets if line["message"].endswith("opened")]
    closed = [line for line in sockets if " closed " in line["message"]]
    assert opened, sockets
    assert closed, sockets
    assert opened[0]["socket_id"] == closed[0]["socket_id"]
    assert opened[0]["client"] == closed[0]["client"] == CLIENT
    assert opened[0]["message"] == f'socket {CLIENT} "/ws/notifications/" opened'
    assert {"time", "level", "logger", "message"} <= set(opened[0])
    # What an operator needs of a close: who, how long, how busy, who closed it, the code;
    # and times in UTC, with the zone.
    assert closed[0]["closed_by"] == "client"
    assert closed[0]["code"] == 1000
    assert closed[0]["user_id"] is None
    assert closed[0]["frames_in"] == 0
    assert closed[0]["frames_out"] >= 1  # the sync
    assert closed[0]["seconds"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", opened[0]["time"])


async def test_plain_lines_carry_the_socket_id_too(django_db_setup: None, tmp_path: Path) -> None:
    server = start_daphne(tmp_path)
    try:
        ws = await ws_connect(server, "/ws/notifications/")
        await ws_next(ws, "sync")
        await ws.close()
        await asyncio.sleep(0.5)
    finally:
        server.stop()
    opened = [line for line in server.log.read_text().splitlines() if line.endswith("opened")]
    assert opened
    assert "rtsite.access [" in opened[0]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 INFO ", opened[0])


def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A readiness probe every second logged 56 lines in 12 s of an outage; a rate limit
    failing open, one per post."""
    outage = Outage(logging.getLogger("test"), "redis unreachable")
    with caplog.at_level(logging.WARNING):
        for _ in range(50):
            outage.failed(ConnectionError("refused"))
        for _ in range(5):
            outage.answered()
        outage.failed(ConnectionError("refused"))
    assert [r.getMessage() for r in caplog.records] == [
        "redis unreachable: refused",
        "redis unreachable: answering again",
        "redis unreachable: refused",
    ]
