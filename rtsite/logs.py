"""Log lines that say which socket they are about, and an access log of our own.

A consumer sets ``socket_id`` when it connects; every line logged while that socket's
handlers run carries it (``[<id>]`` in plain text, ``socket_id`` in JSON), so one
connection's lines can be followed through a busy log.

daphne's own access log writes text to a stream and, behind a proxy, names the proxy
(``127.0.0.1:0``); ``rtsite.access`` lines (``ProcessMiddleware``) go through logging,
so they are JSON under LOG_FORMAT=json, and name the client that daphne's
``--proxy-headers`` reads from X-Forwarded-For (``make serve`` passes it).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

socket_id: ContextVar[str] = ContextVar("socket_id", default="")

access = logging.getLogger("rtsite.access")


class SocketIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.socket_id = getattr(record, "socket_id", None) or socket_id.get()
        return True


class PlainFormatter(logging.Formatter):
    """Text lines; a socket's carry ``[<socket id>]`` after the logger's name."""

    def format(self, record: logging.LogRecord) -> str:
        current = getattr(record, "socket_id", "")
        record.socket_tag = f" [{current}]" if current else ""
        return super().format(record)


def client_of(scope: dict[str, Any]) -> str:
    client = scope.get("client") or None
    return f"{client[0]}:{client[1]}" if client else "-"
