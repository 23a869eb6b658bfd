"""Direct writes on twisted TCP connections: immediate when nothing is buffered, and
never ahead of bytes that are."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet import tcp

from rtsite import fastwrite, sendlimit


class FakeReactor:
    def __init__(self) -> None:
        self.writers: list[Any] = []

    def addWriter(self, writer: Any) -> None:  # noqa: N802 - twisted's interface
        self.writers.append(writer)

    def removeWriter(self, writer: Any) -> None:  # noqa: N802
        self.writers.remove(writer)


@pytest.fixture
def connection(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[tcp.Connection, socket.socket, FakeReactor]]:
    fastwrite.install()
    # These tests buffer megabytes on purpose; the slow-client limit is tested below.
    monkeypatch.setitem(sendlimit._state, "limit", 2**40)
    ours, peer = socket.socketpair()
    reactor = FakeReactor()
    conn = tcp.Connection(ours, protocol=None, reactor=reactor)
    conn.connected = True
    yield conn, peer, reactor
    ours.close()
    peer.close()


def drain(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    chunks = []
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_installed_by_the_asgi_application() -> None:
    import rtsite.asgi  # noqa: F401

    assert fastwrite.installed()


def test_small_write_goes_straight_to_the_socket(connection: Any) -> None:
    conn, peer, reactor = connection
    conn.write(b"hello")
    assert drain(peer) == b"hello"
    assert reactor.writers == []  # no event-loop registration for it


def test_what_the_kernel_does_not_take_is_buffered_in_order(connection: Any) -> None:
    conn, peer, reactor = connection
    big = bytes(range(256)) * 40_000  # ~10 MB: more than a socket buffer holds
    conn.write(big)
    assert reactor.writers == [conn]  # the rest waits for the socket to drain
    conn.write(b"after")  # must not overtake the buffered tail
    received = drain(peer)
    assert 0 < len(received) < len(big)
    assert received == big[: len(received)]
    assert not received.endswith(b"after")
    pending = conn.dataBuffer[conn.offset :] + b"".join(conn._tempDataBuffer)
    assert received + pending == big + b"after"


def test_a_closed_connection_writes_nothing(connection: Any) -> None:
    conn, peer, _reactor = connection
    conn.connected = False
    conn.write(b"dropped")
    assert drain(peer) == b""


def test_a_client_that_does_not_read_is_dropped_at_its_next_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sendlimit._state, "limit", sendlimit._state["limit"])  # restored after
    sendlimit.install(64 * 1024)
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    conn = tcp.Connection(ours, protocol=None, reactor=FakeReactor())
    conn.connected = True
    aborted: list[bool] = []
    conn.abortConnection = lambda: aborted.append(True)  # type: ignore[method-assign]
    try:
        conn.write(b"x" * (256 * 1024))  # one large frame is allowed past the limit
        assert not aborted
        assert sendlimit.buffered(conn) > 64 * 1024
        conn.write(b"next frame")  # still that far behind: dropped
        assert aborted == [True]
    finally:
        ours.close()
        peer.close()
