"""The server patches: installed once by the application, refused (and the site left
unpatched) when the code they replace changed, undone on demand; and what they do: direct
writes on twisted TCP connections (immediate when nothing is buffered, never ahead of
bytes that are), slow readers dropped."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from autobahn.websocket.protocol import WebSocketProtocol, WebSocketServerFactory
from channels.db import database_sync_to_async
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from daphne.ws_protocol import WebSocketProtocol as DaphneWebSocketProtocol
from twisted.internet import tcp
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from chat import services as chat_services
from chat.models import Room
from realtime.server import patches
from realtime.server.standins import ApplicationQueue, OpenedRequest, SendQueue
from tests.conftest import ROOT, Daphne, child_env, free_port, ws_connect, ws_next
from tests.realtime.server.test_metrics import scrape, value


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
    patches.install(direct_writes=True, send_limit=0)
    # These tests buffer megabytes on purpose; the slow-client limit is tested below.
    monkeypatch.setattr(patches._state, "send_limit", 2**40)
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

    assert patches.installed()
    assert patches.refused() == []
    assert tcp.Connection.__dict__["write"].__name__ == "limited_write"


@pytest.fixture
def unpatched() -> Iterator[None]:
    """No patch in place for the test; as they were afterwards."""
    was_installed = patches.installed()
    patches.uninstall()
    yield
    patches.uninstall()
    if was_installed:
        patches.install(direct_writes=True, send_limit=patches._state.send_limit)


def originals() -> list[Any]:
    return [
        tcp.Connection.__dict__.get("write"),
        WebSocketServerFactory.resetProtocolOptions,
        WebSocketProtocol.sendMessage,
    ]


def test_install_patches_once_and_uninstall_restores(unpatched: None) -> None:
    before = originals()
    assert before[0] is None  # Connection inherits write from FileDescriptor
    assert patches.install(direct_writes=True, send_limit=1024)
    patched = originals()
    assert all(now is not then for now, then in zip(patched, before, strict=True))
    assert patches.install(direct_writes=True, send_limit=2048)  # once: no re-wrap
    assert originals() == patched
    assert patches._state.send_limit == 2048
    patches.uninstall()
    assert originals() == before
    assert not patches.installed()


def test_a_changed_attribute_is_refused_and_nothing_is_patched(
    unpatched: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def write(self: Any, data: bytes, flush: bool) -> None:  # a new shape
        raise AssertionError("not called")

    monkeypatch.setattr(tcp.Connection, "write", write)
    before = originals()
    with caplog.at_level("WARNING", logger="realtime.server.patches"):
        assert not patches.install(direct_writes=True, send_limit=1024)
    assert originals() == before  # nothing patched, not even the autobahn parts
    assert not patches.installed()
    assert any("Connection.write" in problem for problem in patches.refused())
    warnings = [r for r in caplog.records if r.name == "realtime.server.patches"]
    assert len(warnings) == 1
    assert "running unpatched" in warnings[0].getMessage()


def test_the_tested_releases_are_the_pinned_ones() -> None:
    """The guard's table and requirements.txt name the same releases: a bump of either
    alone fails here."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, separator, version = line.split("#")[0].strip().partition("==")
        if separator:
            pins[name.split("[")[0].lower()] = version
    assert {name: pins[name] for name in patches.TESTED_VERSIONS} == (patches.TESTED_VERSIONS)
    for package, version in patches.TESTED_VERSIONS.items():
        assert metadata.version(package) == version  # what this test run installed


@pytest.mark.parametrize("installed", ["26.10.1", "26.11.0", "27.0.0"])
def test_any_other_release_is_refused(
    unpatched: None, monkeypatch: pytest.MonkeyPatch, installed: str
) -> None:
    """Only the exact release tested: a patch release of the same series too."""
    version = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: installed if name == "twisted" else version(name)
    )
    assert not patches.install(direct_writes=True, send_limit=1024)
    assert patches.refused() == [f"twisted is {installed}, the patches were tested with 26.10.0"]
    assert patches.state() == "refused"
    assert tcp.Connection.__dict__.get("write") is None


def test_daphne_gets_a_message_limit_only_when_the_patches_install(
    unpatched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unpatched, autobahn would apply the message limit to outgoing messages too: then
    only frames are limited (autobahn checks those on the way in only)."""
    limited = ["--websocket-max-message-size", "4096", "--websocket-max-frame-size", "4096"]
    assert patches.daphne_size_flags(4096) == limited
    patches.install(direct_writes=True, send_limit=0)
    assert patches.daphne_size_flags(4096) == limited  # asked again once installed
    patches.uninstall()
    monkeypatch.setitem(patches.TESTED_VERSIONS, "daphne", "4.3.0")
    assert patches.daphne_size_flags(4096) == [
        *("--websocket-max-message-size", "0", "--websocket-max-frame-size", "4096")
    ]


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
    patches.install(direct_writes=True, send_limit=0)
    monkeypatch.setattr(patches._state, "send_limit", 64 * 1024)
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    conn = tcp.Connection(ours, protocol=None, reactor=FakeReactor())
    conn.connected = True
    aborted: list[bool] = []
    conn.abortConnection = lambda: aborted.append(True)  # type: ignore[method-assign]
    try:
        conn.write(b"x" * (256 * 1024))  # one large frame is allowed past the limit
        assert not aborted
        assert patches.buffered(conn) > 64 * 1024
        conn.write(b"next frame")  # still that far behind: dropped
        assert aborted == [True]
    finally:
        ours.close()
        peer.close()


def test_protocol_options_live_on_a_class_not_on_each_connection() -> None:
    """autobahn copies its protocol options onto every connection unless its class has
    them: the patched factory builds connections of a class that does, and builds the
    class again when the options change."""
    import rtsite.asgi  # noqa: F401 - installs the patches

    factory = WebSocketFactory(server_class=None)
    factory.setProtocolOptions(autoPingInterval=7)
    first = factory.buildProtocol(None)
    assert type(first).__dict__["autoPingInterval"] == 7
    assert "autoPingInterval" not in first.__dict__
    assert type(factory.buildProtocol(None)) is type(first)  # made once
    factory.setProtocolOptions(autoPingInterval=9, perMessageCompressionAccept=len)
    again = factory.buildProtocol(None)
    assert again.autoPingInterval == 9
    assert again.perMessageCompressionAccept([1, 2]) == 2  # a function stays one
    from autobahn.websocket import protocol as autobahn_protocol

    assert autobahn_protocol.pformat({"a": 1}) == "(omitted)"


async def test_the_application_queue_hands_over_in_order_and_waits_when_empty() -> None:
    queue = ApplicationQueue()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert [await queue.get(), await queue.get()] == [1, 2]
    assert queue.items is None  # no deque kept while nothing waits
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put_nowait(3)
    queue.put_nowait(4)
    assert await waiting == 3
    assert await queue.get() == 4
    cancelled = asyncio.ensure_future(queue.get())  # a disconnect cancels the reader
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    queue.put_nowait(5)
    assert await queue.get() == 5


def test_daphne_gives_each_application_the_small_queue() -> None:

    import rtsite.asgi  # noqa: F401 - installs the patches

    made: list[dict[str, object]] = []

    async def application(scope: dict[str, object], receive: object, send: object) -> None:
        made.append(scope)

    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        server = Server(application=application, endpoints=["tcp:port=0"])
        protocol = object()
        server.connections = {protocol: {}}  # as Server.run() starts it
        queue = server.create_application(protocol, {"type": "websocket"})
        loop.run_until_complete(server.connections[protocol]["application_instance"])
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert isinstance(queue, ApplicationQueue)
    assert made == [{"type": "websocket", "asgi": {"version": "3.0"}}]


# Another Twisted release than the one tested, as every Python process started with this
# file's directory on PYTHONPATH sees it (Python imports sitecustomize at startup).
ANOTHER_TWISTED = """
from importlib import metadata

_version = metadata.version
metadata.version = lambda name: "27.0.0" if name.lower() == "twisted" else _version(name)
"""


def readiness(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"{url}/healthz/ready", timeout=5) as reply:  # noqa: S310
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start_worker_as_serve_does(tmp_path: Path, env: dict[str, str]) -> Daphne:
    """One worker, with the command line `manage.py serve` gives supervisor, on a
    listening socket of its own as its standard input (as supervisor's fcgi-program)."""
    port = free_port()
    serve = [sys.executable, str(ROOT / "manage.py"), "serve", "--config-only"]
    config = subprocess.run(
        [*serve, "--workers", "1", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    command = next(
        line.removeprefix("command=")
        for line in config.splitlines()
        if line.startswith("command=") and "daphne" in line
    )
    log = tmp_path / "worker.log"
    listener = socket.create_server(("127.0.0.1", port), backlog=2048)
    with listener, open(log, "ab") as out:
        process = subprocess.Popen(
            shlex.split(command), stdin=listener, cwd=ROOT, env=env, stdout=out, stderr=out
        )
    worker = Daphne(port=port, process=process, log=log, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if readiness(worker.url)[0] == 200:
                return worker
        except OSError:
            pass
        time.sleep(0.2)
    worker.stop()
    raise RuntimeError(f"the worker did not become ready: {log.read_text()}")


@pytest.mark.django_db(transaction=True)
async def test_with_the_patches_refused_a_resume_over_100_kb_still_arrives(
    tmp_path: Path, make_room: Callable[..., Room], make_user: Callable[..., Any]
) -> None:
    """A worker that refuses the patches (another Twisted release), started as `make
    serve` starts it: it says so in readiness and metrics, still serves, and a resume far
    over the 32 KiB client frame limit reaches the client whole (unpatched autobahn would
    refuse to send it under daphne's message limit)."""
    shim = tmp_path / "another-twisted"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(ANOTHER_TWISTED)
    env = child_env(RTSITE_VAR_DIR=str(tmp_path), PYTHONPATH=f"{shim}{os.pathsep}{ROOT}")
    room = await database_sync_to_async(make_room)(retention=0)
    author = await database_sync_to_async(make_user)()

    def post_long_history() -> None:
        for i in range(60):
            chat_services.message_post(room=room, author=author, body=f"{i} " + "y" * 1990)

    await database_sync_to_async(post_long_history)()
    worker = await asyncio.to_thread(start_worker_as_serve_does, tmp_path, env)
    try:
        status, checks = await asyncio.to_thread(readiness, worker.url)
        assert (status, checks["server_patches"]) == (200, "refused"), checks
        samples = await asyncio.to_thread(scrape, worker.url)
        assert value(samples, "rtsite_server_patches_installed") == 0
        assert "twisted is 27.0.0" in worker.log.read_text()
        ws = await ws_connect(worker, f"/ws/chat/{room.slug}/?after_id=1")
        try:
            sync = await ws_next(ws, "sync")
        finally:
            await ws.close()
        assert sync["mode"] == "resume"
        assert len(sync["messages"]) == 59
        assert len(json.dumps(sync)) > 100_000
    finally:
        worker.stop()


HANDSHAKE = (
    b"GET /ws/chat/lobby/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nCookie: sessionid=abc\r\n\r\n"
)


async def _upgraded(server: Any) -> tuple[Any, Any]:
    """One connection through daphne's HTTP channel, upgraded and accepted: (Twisted's
    channel, its transport)."""
    channel = HTTPFactory(server).buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    transport = StringTransport(
        peerAddress=IPv4Address("TCP", "127.0.0.1", 5555),
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
    )
    channel.makeConnection(transport)
    channel.dataReceived(HANDSHAKE)
    for _ in range(100):
        if transport.value().startswith(b"HTTP/1.1 101"):
            break
        await asyncio.sleep(0.01)
    assert transport.value().startswith(b"HTTP/1.1 101 Switching Protocols")
    return channel._channel, transport


def _accepting_server() -> Any:
    """A daphne server (not listening) whose application accepts every socket and keeps
    it open until cancelled; connections go in through ``_upgraded``."""

    async def application(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()  # open until cancelled

    server = Server(application=application, endpoints=["tcp:port=0"])
    server.connections = {}  # as Server.run() starts them
    server.ws_factory = WebSocketFactory(server, server="Daphne")
    return server


def _cancel_applications(server: Any) -> None:
    for details in server.connections.values():
        if "application_instance" in details:  # the upgraded HTTP request has none
            details["application_instance"].cancel()


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "unpatched"])
async def test_an_upgraded_connection_lets_go_of_its_handshake_request(
    unpatched: None, patched: bool
) -> None:
    if patched:
        assert patches.install(direct_writes=True, send_limit=0)
    server = _accepting_server()
    channel, transport = await _upgraded(server)
    try:
        # daphne's own checker forgets the upgraded request within a second; then only
        # Twisted's channel (the connection's producer, for its whole life) can hold it.
        requests = [p for p in server.connections if isinstance(p, WebRequest)]
        for request in requests:
            del server.connections[request]
        held = weakref.ref(requests[0])
        del requests, request
        gc.collect()
        assert transport.producer is channel
        if patched:
            assert channel.requests == []
            assert held() is None
        else:
            assert channel.requests == [held()]
    finally:
        _cancel_applications(server)


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "unpatched"])
async def test_an_open_connection_lets_go_of_autobahns_handshake_copies(
    unpatched: None, patched: bool
) -> None:
    if patched:
        assert patches.install(direct_writes=True, send_limit=0)
    server = _accepting_server()
    await _upgraded(server)
    (socket_,) = [p for p in server.connections if isinstance(p, DaphneWebSocketProtocol)]
    try:
        copies = (*patches.HANDSHAKE_COPIES, patches.DAPHNE_HEADERS)
        held = [name for name in copies if name in vars(socket_)]
        if patched:
            assert held == []
            assert socket_.request == OpenedRequest("/ws/chat/lobby/")
            # The empty send queue a list, the falsy defaults read from the class: an
            # instance dict in the table below the one 43 attributes need (1,584 bytes).
            assert type(socket_.send_queue) is SendQueue
            assert "wasClean" not in vars(socket_)
            assert socket_.wasClean is False
            assert sys.getsizeof(vars(socket_)) <= 832
        else:
            assert "sessionid=abc" in socket_.http_headers["cookie"]
            assert "sessionid=abc" in socket_.request.headers["cookie"]
            assert len(held) == len(copies)
        socket_.onClose(True, 1000, "")  # daphne logs the path at close: still there
    finally:
        _cancel_applications(server)


async def test_connections_sharing_their_defaults_keep_their_own_state(
    unpatched: None,
) -> None:
    """What one connection sets (closing, a synchronous send through its send queue)
    is its own; the other still reads the shared defaults."""
    assert patches.install(direct_writes=True, send_limit=0)
    server = _accepting_server()
    await _upgraded(server)
    _, second = await _upgraded(server)
    one, other = [p for p in server.connections if isinstance(p, DaphneWebSocketProtocol)]
    try:
        assert type(one) is type(other)
        before = second.value()
        other.sendData(b"abcdef", chopsize=2)  # the first piece now, one a reactor turn
        assert type(other.send_queue) is SendQueue
        assert other.send_queue == [(b"cd", True), (b"ef", True)]
        other._send(), other._send()  # the reactor's next two turns (not running here)
        assert second.value() == before + b"abcdef"
        assert other.send_queue == []
        one.localCloseCode, one.closedByMe = 1000, True
        assert (one.localCloseCode, one.closedByMe) == (1000, True)
        assert (other.localCloseCode, other.closedByMe) == (None, False)
        assert type(one).localCloseCode is None
    finally:
        _cancel_applications(server)


def test_a_method_reading_the_handshake_once_open_is_refused(
    unpatched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def onMessage(self: Any, payload: bytes, isBinary: bool) -> None:  # noqa: N802,N803
        self.http_headers.get("cookie")

    monkeypatch.setattr(DaphneWebSocketProtocol, "onMessage", onMessage)
    assert not patches.install(direct_writes=True, send_limit=0)
    assert "WebSocketProtocol.onMessage reads http_headers" in patches.refused()
