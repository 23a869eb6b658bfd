from __future__ import annotations

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_healthy(client: Client) -> None:
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@override_settings(REDIS_URL="unix:///nonexistent/redis.sock")
def test_redis_down_is_503(client: Client) -> None:
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["redis"] == "unreachable"
    assert reply.json()["database"] == "ok"


def test_database_down_is_503(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: BaseDatabaseWrapper, *args: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["database"] == "unreachable"
