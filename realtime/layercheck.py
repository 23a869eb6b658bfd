"""Every process of a site must use the same channel layer configuration.

A process (or a ``manage.py`` command) with another shard list, backend or prefix than
the running site's publishes where no hub listens: ``send_notification`` said
``"sent": true`` while no socket got it. So the configuration's fingerprint is kept in
the project's Redis. A daphne process checks it at start-up, and a command before its
first broadcast:

- none stored yet: this one is stored;
- the same: fine;
- another, and a process of the site is alive: refused, with both configurations named
  (no passwords) and what to fix;
- another, and no process is alive: the site was reconfigured while stopped; this one is
  stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from common.redis import get_redis
from realtime.registry import alive_key, registry_key

logger = logging.getLogger(__name__)


class LayerMismatchError(ImproperlyConfigured, CommandError):
    """Refused: at a daphne start-up an error that stops it, in a command a CommandError
    (its message, no traceback; ``send_notification --json`` says ``"sent": false``)."""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _host(host: Any) -> str:
    if isinstance(host, dict) and "sentinels" in host:
        sentinels = ",".join(f"{h}:{p}" for h, p in host["sentinels"])
        return f"sentinel://{sentinels}/{host.get('master_name', '')}"
    if isinstance(host, dict):
        return _without_password(str(host.get("address", "")))
    return _without_password(str(host))


def description() -> dict[str, Any]:
    layer = settings.CHANNEL_LAYERS["default"]
    config = layer.get("CONFIG", {})
    return {
        "backend": layer["BACKEND"],
        "prefix": config.get("prefix", ""),
        "shards": [_host(host) for host in config.get("hosts", [])],
    }


def fingerprint(described: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def _key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:layer-config"


def _live_processes(client: Any) -> int:
    members = client.smembers(registry_key())
    return sum(1 for process_id in members if client.exists(alive_key(process_id)))


def check_or_refuse() -> None:
    """Raise ``LayerMismatchError`` if this process's layer differs from the live site's."""
    mine = description()
    mine_print = fingerprint(mine)
    client = get_redis(timeout=5.0)
    stored = cast("dict[str, str]", client.hgetall(_key()))  # decoded (common/redis.py)
    if stored.get("fingerprint") == mine_print:
        return
    if stored and _live_processes(client):
        raise LayerMismatchError(
            "this process's channel layer differs from the running site's: here "
            f"{stored_text(mine)}, the site {stored.get('description')}. Every daphne "
            "process and every manage.py command must share CHANNEL_LAYER_BACKEND, "
            "CHANNEL_LAYER_REDIS_URLS (or the Sentinel settings), CHANNEL_LAYER_PREFIX and "
            "REDIS_URL (docs/deploy.md)."
        )
    if stored:
        logger.warning(
            "the channel layer configuration changed (no process of the old one is alive): "
            "%s -> %s",
            stored.get("description"),
            stored_text(mine),
        )
    client.hset(_key(), mapping={"fingerprint": mine_print, "description": stored_text(mine)})


def stored_text(described: dict[str, Any]) -> str:
    return json.dumps(described, sort_keys=True)


class _Once:
    checked = False


def check_once() -> None:
    """``check_or_refuse`` the first time this process broadcasts from a command."""
    if not _Once.checked:
        check_or_refuse()
        _Once.checked = True
