"""Liveness and readiness (``/healthz/live``, ``/healthz/ready``; docs/deploy.md).

Liveness asks only that the process's event loop answers: a process manager restarts a
process that fails it (frozen, wedged). Readiness asks whether this process can serve
sockets now: the database, the project's Redis and every channel layer shard answer,
its hub received something through the layer recently (at least its own heartbeat's
ping, once a second: the broadcast path works end to end), and it is not draining. A
proxy stops sending it requests while it fails. It also says whether the server patches
are installed (``server_patches``), without failing on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from common.logs import Outage
from common.redis import get_redis
from realtime import metrics
from realtime.hub import get_hub
from realtime.processes import get_process
from realtime.server import drain, patches

logger = logging.getLogger(__name__)

OK = "ok"
PROBE_TIMEOUT = 1.0


@database_sync_to_async
def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_shard(host: dict[str, Any]) -> None:
    if "sentinels" in host:
        sentinel = redis.sentinel.Sentinel(host["sentinels"], socket_timeout=PROBE_TIMEOUT)
        client = sentinel.master_for(host["master_name"], socket_timeout=PROBE_TIMEOUT)
    else:
        client = redis.Redis.from_url(
            host["address"], socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
        )
    try:
        client.ping()
    finally:
        client.close()


def _ping_project_redis() -> None:
    client = get_redis(timeout=PROBE_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


# One per component probed: a line when it stops answering and one when it is back.
_outages: dict[str, Outage] = {}


async def _probe(name: str, check: Any) -> tuple[str, str]:
    outage = _outages.setdefault(name, Outage(logger, f"readiness: {name} unreachable"))
    try:
        async with asyncio.timeout(PROBE_TIMEOUT * 3):
            await check
    except Exception as error:
        outage.failed(error)
        metrics.READY.labels(name).set(0)
        return name, "unreachable"
    outage.answered()
    metrics.READY.labels(name).set(1)
    return name, OK


def hub_state() -> str:
    """Whether this process's hub heard from the layer within RT_HUB_READY_SECONDS."""

    process = get_process()
    process.start()
    hub = get_hub()
    if hub.last_received is None:
        return "starting" if process.age() < settings.RT_HUB_READY_SECONDS else "silent"
    silent = time.monotonic() - hub.last_received
    return OK if silent < settings.RT_HUB_READY_SECONDS else "silent"


async def readiness() -> dict[str, str]:
    hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", [])
    probes = [
        _probe("database", _database()),
        _probe("redis", asyncio.to_thread(_ping_project_redis)),
        *(
            _probe(f"layer_shard_{index}", asyncio.to_thread(_ping_shard, host))
            for index, host in enumerate(hosts)
        ),
    ]
    checks = dict(await asyncio.gather(*probes))
    checks["hub"] = hub_state()
    checks["draining"] = "yes" if drain.draining() else "no"
    checks["server_patches"] = patches.state()
    # "uvloop" or "asyncio": the loop under Twisted's reactor (realtime.server.rundaphne).
    checks["event_loop"] = type(asyncio.get_running_loop()).__module__.split(".")[0]
    metrics.READY.labels("hub").set(checks["hub"] == OK)
    metrics.READY.labels("draining").set(drain.draining())
    return checks


# Shown, but not asked to be "ok": an unpatched process serves correctly, only slower
# (realtime/server/patches.py); taking it out of rotation would not make it patched.
INFORMATIONAL = frozenset({"draining", "server_patches", "event_loop"})


def ready(checks: dict[str, str]) -> bool:
    return all(state == OK for name, state in checks.items() if name not in INFORMATIONAL) and (
        checks["draining"] == "no"
    )
