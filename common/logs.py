"""Log lines that say which socket they are about, and an access log of our own.

A consumer sets ``socket_id`` when it connects; every line logged while that socket's
handlers run carries it (``[<id>]`` in plain text, ``socket_id`` in JSON), so one
connection's lines can be followed through a busy log.

daphne's own access log writes text to a stream and, behind a proxy, names the proxy;
``rtsite.access`` lines (``ProcessMiddleware`` for requests, the consumers for sockets
opened and closed) go through logging, so they are JSON under LOG_FORMAT=json, and
carry the client's address as ``client``: the one the outermost trusted proxy saw
(``common.proxies``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

socket_id: ContextVar[str] = ContextVar("socket_id", default="")

access = logging.getLogger("rtsite.access")


class SocketIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.socket_id = getattr(record, "socket_id", None) or socket_id.get()
        return True


def utc_time(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with its zone (2026-12-06T23:41:51.123+00:00): lines of hosts in
    different zones, and of a host across a clock change, sort and compare as they are."""
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class PlainFormatter(logging.Formatter):
    """Text lines; a socket's carry ``[<socket id>]`` after the logger's name."""

    def format(self, record: logging.LogRecord) -> str:
        current = getattr(record, "socket_id", "")
        record.socket_tag = f" [{current}]" if current else ""
        return super().format(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return utc_time(record)


class JsonFormatter(_JsonFormatter):
    """One JSON object a line, its ``time`` as the plain lines' (``utc_time``)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return utc_time(record)


class Outage:
    """Says when something starts failing, and when it answers again: one line per change
    of state, not one per try (a readiness probe every second logged 56 lines in 12 s; a
    rate limit failing open, one per post)."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.failing = False

    def failed(self, error: BaseException) -> None:
        if not self.failing:
            self.failing = True
            self.logger.warning("%s: %s", self.what, error or type(error).__name__)

    def answered(self) -> None:
        if self.failing:
            self.failing = False
            self.logger.warning("%s: answering again", self.what)


def client_of(scope: Mapping[str, Any]) -> str:
    """The client's address (no port: behind a proxy there is none worth logging)."""
    client = scope.get("client") or None
    return str(client[0]) if client else "-"
