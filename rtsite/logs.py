"""Log lines that say which socket they are about, and an access log of our own.

A consumer sets ``socket_id`` when it connects; every line logged while that socket's
handlers run carries it (``[<id>]`` in plain text, ``socket_id`` in JSON), so one
connection's lines can be followed through a busy log.

daphne's own access log writes text to a stream and, behind a proxy, names the proxy;
``rtsite.access`` lines (``ProcessMiddleware`` for requests, the consumers for sockets
opened and closed) go through logging, so they are JSON under LOG_FORMAT=json, and
carry the client's address as ``client``: the one the outermost trusted proxy saw
(``rtsite.proxies``).
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
    """The client's address (no port: behind a proxy there is none worth logging)."""
    client = scope.get("client") or None
    return str(client[0]) if client else "-"
