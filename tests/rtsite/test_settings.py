"""settings.py reads the environment strictly and refuses unsafe production values."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[2] / "rtsite" / "settings.py"
VARIABLES = [
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CHANNEL_LAYER_REDIS_URLS",
    "CHANNEL_LAYER_CAPACITY",
    "CHAT_MAX_MESSAGE_LENGTH",
]


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_secret_key_is_required_when_debug_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load(monkeypatch, DEBUG="false")


def test_debug_defaults_to_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch, SECRET_KEY="k")["DEBUG"] is False


def test_debug_on_has_a_development_key(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(monkeypatch, DEBUG="true")
    assert loaded["DEBUG"] is True
    assert loaded["SECRET_KEY"]


@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_booleans_are_parsed_strictly(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        load(monkeypatch, DEBUG=value, SECRET_KEY="k")


def test_integers_are_parsed_strictly(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="CHAT_MAX_MESSAGE_LENGTH"):
        load(monkeypatch, SECRET_KEY="k", CHAT_MAX_MESSAGE_LENGTH="lots")
    with pytest.raises(ImproperlyConfigured, match="CHANNEL_LAYER_CAPACITY"):
        load(monkeypatch, SECRET_KEY="k", CHANNEL_LAYER_CAPACITY="0")


def test_wildcard_hosts_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        load(monkeypatch, SECRET_KEY="k", ALLOWED_HOSTS="*")


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(monkeypatch, SECRET_KEY="k")
    assert loaded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert str(loaded["DATABASES"]["default"]["NAME"]).endswith("var/db.sqlite3")
    assert loaded["EMBEDDED_REDIS"] is True
    assert loaded["REDIS_URL"].startswith("unix://")
    host = loaded["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"][0]
    assert host["address"] == loaded["REDIS_URL"]
    # Longer than the layer's 5 s BZPOPMIN, or idle consumers die (redis-py 8 default: 5 s).
    assert host["socket_timeout"] > 5


def test_urls_switch_to_external_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(
        monkeypatch,
        SECRET_KEY="k",
        DATABASE_URL="postgres://app@db.internal:5432/rtsite",
        REDIS_URL="redis://cache.internal:6379/0",
    )
    assert loaded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert loaded["DATABASES"]["default"]["NAME"] == "rtsite"
    assert loaded["EMBEDDED_REDIS"] is False
    assert loaded["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"][0]["address"] == (
        "redis://cache.internal:6379/0"
    )


def test_the_channel_layer_shards_over_several_redis_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load(
        monkeypatch,
        SECRET_KEY="k",
        REDIS_URL="redis://presence:6379/0",
        CHANNEL_LAYER_REDIS_URLS="redis://a:6379/0, redis://b:6379/0",
    )
    hosts = config["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"]
    assert [host["address"] for host in hosts] == ["redis://a:6379/0", "redis://b:6379/0"]
    assert all(host["retry"] is not None for host in hosts)  # reconnect after a restart
    assert config["REDIS_URL"] == "redis://presence:6379/0"
