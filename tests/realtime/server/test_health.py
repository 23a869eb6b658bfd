"""Liveness and readiness: what each checks, in process for each failing part, and on
real daphne processes for the hub and for a channel layer shard that is down."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client, override_settings

from realtime.server import drain, health, patches
from tests.conftest import Daphne, RedisServer, free_port, start_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - http://127.0.0.1 only
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def hub_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """In process there is no daphne loop whose hub could hear the layer: the parts
    other than the hub are what these tests check."""
    monkeypatch.setattr(health, "hub_state", lambda: health.OK)


def test_liveness_asks_only_that_the_loop_answers(client: Client) -> None:
    reply = client.get("/healthz/live")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}


def test_ready_names_every_part(client: Client, hub_ok: None) -> None:
    reply = client.get("/healthz/ready")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "layer_shard_0": "ok",
        "hub": "ok",
        "draining": "no",
        # Under the test client, not daphne: rtsite.asgi did not install them here.
        "server_patches": patches.state(),
        "event_loop": "asyncio",  # nor did realtime.server.rundaphne choose the loop
    }
    assert client.get("/healthz").json() == reply.json()  # the old name: readiness


def test_refused_server_patches_show_but_leave_the_process_ready(
    client: Client, hub_ok: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unpatched process serves correctly (only slower): visible, not unready."""
    monkeypatch.setattr(patches._state, "installed", False)
    monkeypatch.setattr(patches._state, "refused", ["twisted is 27.0.0"])
    reply = client.get("/healthz/ready")
    assert reply.status_code == 200
    assert reply.json()["server_patches"] == "refused"
    assert "27.0.0" not in reply.content.decode()  # the why is in the log, not public


@override_settings(REDIS_URL="unix:///nonexistent/redis.sock")
def test_redis_down_is_503(client: Client, hub_ok: None) -> None:
    reply = client.get("/healthz/ready")
    assert reply.status_code == 503
    assert reply.json()["redis"] == "unreachable"
    assert reply.json()["database"] == "ok"


def test_database_down_is_503(
    client: Client, hub_ok: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: BaseDatabaseWrapper, *args: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    reply = client.get("/healthz/ready")
    assert reply.status_code == 503
    assert reply.json()["database"] == "unreachable"


def test_a_draining_process_is_not_ready(
    client: Client, hub_ok: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drain.state, "draining", True)
    reply = client.get("/healthz/ready")
    assert reply.status_code == 503
    assert reply.json()["draining"] == "yes"
    assert client.get("/healthz/live").status_code == 200


def test_a_real_process_is_ready_once_its_hub_hears_the_layer(daphne_server: Daphne) -> None:
    status, checks = get(f"{daphne_server.url}/healthz/ready")
    assert (status, checks["hub"]) == (200, "ok"), checks
    assert checks["server_patches"] == "ok"
    assert checks["event_loop"] == "uvloop"  # under Twisted's reactor (rundaphne)


def test_a_worker_told_so_keeps_asyncios_own_loop(django_db_setup: None, tmp_path: Path) -> None:
    server = start_daphne(tmp_path, env={"RT_UVLOOP": "0"})
    try:
        status, checks = get(f"{server.url}/healthz/ready")
        assert (status, checks["event_loop"]) == (200, "asyncio"), checks
    finally:
        server.stop()


def test_a_layer_shard_down_makes_a_process_unready_until_it_is_back(
    django_db_setup: None, tmp_path: Path
) -> None:
    """/healthz said "ok" while a layer shard was down; now readiness names the shard."""
    from django.conf import settings

    shard = RedisServer(port=free_port(), directory=tmp_path)
    prefix = f"{settings.REDIS_KEY_PREFIX}-shards"  # a site of its own (its layer differs)
    server = start_daphne(
        tmp_path,
        env={
            "CHANNEL_LAYER_REDIS_URLS": f"{_layer_url()},{shard.url}",
            "CHANNEL_LAYER_PREFIX": prefix,
            "REDIS_KEY_PREFIX": prefix,
        },
        health="/healthz/live",
    )
    try:
        status, checks = get(f"{server.url}/healthz/ready")
        assert status == 503
        assert checks["layer_shard_0"] == "ok"
        assert checks["layer_shard_1"] == "unreachable"
        shard.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, checks = get(f"{server.url}/healthz/ready")
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, json.dumps(checks)
    finally:
        server.stop()
        if shard.process is not None:
            shard.kill()


def _layer_url() -> str:
    from django.conf import settings

    return settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
