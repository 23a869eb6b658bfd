"""Patches of the server stack (Twisted and autobahn, under daphne), in one guarded place.

daphne offers no option for any of these, so they replace methods of Twisted's TCP
connection and autobahn's WebSocket classes. That is only safe against the code they
were written for: ``install()`` first checks the installed versions and the shape of
everything it replaces or reads. If anything differs it patches nothing and logs one
warning, and the site runs unpatched: correct, but slower (see "If refused" below).
``uninstall()`` puts the originals back (for tests). Why each exists, what it buys and
what upstreaming it would take is in docs/decisions.md ("Server patches").

- **Direct writes** (``RT_DIRECT_WRITES``): Twisted buffers every write and registers
  the socket with the event loop to flush it on a later pass, two ``epoll_ctl`` calls and
  a loop pass per frame. asyncio and Tornado send at once and buffer only what the kernel
  does not take; this gives Twisted's plain TCP connections the same behaviour, only
  when nothing is buffered (bytes never overtake earlier ones) and never for TLS.
- **Send limit** (``RT_MAX_SEND_BUFFER_BYTES``): a client that stops reading has its
  frames buffered by Twisted without bound; past the limit it is dropped at its next
  frame (one large frame, a resume, may pass the limit by itself).
- **Close frames**: autobahn drops the TCP connection when a client breaks the protocol
  or a limit, so a browser sees only 1006; with ``failByDrop`` off it sends the close
  frame (1009 for a frame over ``--websocket-max-frame-size``) first.
- **Client-only size limit**: autobahn applies ``--websocket-max-message-size`` to what
  the server sends too, so a history page or resume over the limit could not be sent.
- **Restart close codes**: autobahn lets an application close only with 1000 or
  3000-4999; a draining process (``realtime.server.drain``) closes with 1012 (service restart),
  and 1013 (try again later) is let through too.
- **Handshake shedding**: daphne takes every handshake; with a gate
  (``realtime.server.admission``), one that the process cannot serve in time is answered at once
  with HTTP 503 and ``Retry-After`` instead.
- **Protocol options on the class**: autobahn copies its ~40 protocol options from the
  factory onto every connection (an instance dict twice the size), and pretty-prints
  them for a debug line that is off, at every handshake. The options are put on a
  subclass of daphne's protocol instead (rebuilt whenever the factory's options
  change), so a connection reads them from its class; the debug line says "(omitted)".
- **A small application queue**: daphne gives every connection an ``asyncio.Queue`` for
  the messages to its application; an idle one is four deques and an event, about 3 KB
  of a socket's memory for its whole life. ``ApplicationQueue`` does what daphne and
  the application use of it (``put_nowait``, one reader awaiting ``get``) with a deque
  only while messages wait.
- **The handshake let go**: after daphne hands a connection to the WebSocket protocol,
  Twisted's HTTP channel (still the connection's producer) keeps the upgrade request in
  its queue, with its headers and body, for the socket's whole life (2.8 KB a socket).
  The request leaves that queue once upgraded.
- **autobahn's handshake copies let go**: once open, a connection still holds the raw
  handshake, its parsed headers, status line, query and the response it sent, and
  daphne's ``ConnectionRequest`` (the headers again) and daphne's list of the headers
  (the scope's), read only while the handshake runs. After daphne's ``onOpen`` they are
  dropped, and daphne's request is replaced by the one field it reads later (the path,
  for its access log). Its empty send queue (a deque, 0.76 KB, for chopped and
  synchronous sends, which daphne never makes) becomes an empty list, and the attributes
  holding a falsy immutable (``wasClean = False``, ``localCloseCode = None``) read
  their value from the class: the instance dict drops to a smaller table (0.75 KB).

If refused: writes go through Twisted's buffer (slower fan-out), each socket keeps an
``asyncio.Queue`` (about 3 KB more), slow readers are buffered for (memory), oversized
client frames are dropped without a close frame, a drain closes with 1000 (browsers
reconnect after it as after 1012), a storm of handshakes is queued, not shed, and each
socket keeps its handshake request.
autobahn would also apply daphne's message size limit to outgoing messages, so daphne
must then run without one: ``realtime.server.rundaphne`` (how ``make run`` and ``make serve``
start daphne) asks ``daphne_size_flags()`` in the worker itself, before the application
loads, and passes a message limit only when the patches will install. Frames stay
limited (autobahn checks a frame's size on the way in only), and the site refuses a
larger client message itself, with ``too_large``. The refusal shows in readiness
(``server_patches``) and in ``rtsite_server_patches_installed``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

from autobahn.websocket import protocol as autobahn_protocol
from autobahn.websocket.protocol import WebSocketProtocol, WebSocketServerFactory
from daphne.http_protocol import WebRequest
from daphne.server import Server as DaphneServer
from daphne.ws_protocol import WebSocketFactory as DaphneWebSocketFactory
from daphne.ws_protocol import WebSocketProtocol as DaphneWebSocketProtocol
from twisted.internet import tcp
from twisted.web import http as twisted_http

from realtime.server.standins import ApplicationQueue, OpenedRequest, SendQueue

logger = logging.getLogger(__name__)

# The exact releases the patches were written and tested against: requirements.txt's pins
# (a test fails when the two differ). Any other release is refused, a patch release too.
TESTED_VERSIONS = {"twisted": "26.10.0", "autobahn": "26.10.2", "daphne": "4.2.3"}


@dataclass(frozen=True)
class Target:
    """A method that a patch replaces, and the parameters it is expected to take: by
    name where callers pass them by name, else only how many."""

    owner: type | ModuleType  # a class, or a module for a function (autobahn's pformat)
    name: str
    parameters: tuple[str, ...]
    by_name: bool = True

    def current(self) -> Any:
        return getattr(self.owner, self.name, None)

    def shape_of(self, method: Any) -> tuple[str, ...] | int:
        parameters = tuple(inspect.signature(method).parameters)
        return parameters[: len(self.parameters)] if self.by_name else len(parameters)

    def expected_shape(self) -> tuple[str, ...] | int:
        return self.parameters if self.by_name else len(self.parameters)


# Twisted names write's argument "data" in FileDescriptor and "bytes" in the TLS mixin
# that tcp.Connection inherits it from; it is always passed by position.
WRITE = Target(tcp.Connection, "write", ("self", "data"), by_name=False)
RESET_OPTIONS = Target(WebSocketServerFactory, "resetProtocolOptions", ("self",))
SEND_MESSAGE = Target(WebSocketProtocol, "sendMessage", ("self", "payload", "isBinary"))
SERVER_CLOSE = Target(DaphneWebSocketProtocol, "serverClose", ("self", "code"))
SEND_CLOSE_FRAME = Target(
    WebSocketProtocol, "sendCloseFrame", ("self", "code", "reasonUtf8", "isReply")
)
PROCESS = Target(WebRequest, "process", ("self",))
HANDLE_REPLY = Target(WebRequest, "handle_reply", ("self", "message"))
BUILD_PROTOCOL = Target(DaphneWebSocketFactory, "buildProtocol", ("self", "addr"))
PFORMAT = Target(autobahn_protocol, "pformat", ("object",))
CREATE_APPLICATION = Target(DaphneServer, "create_application", ("self", "protocol", "scope"))
ON_OPEN = Target(DaphneWebSocketProtocol, "onOpen", ("self",))
TARGETS = (
    ON_OPEN,
    CREATE_APPLICATION,
    BUILD_PROTOCOL,
    PFORMAT,
    WRITE,
    RESET_OPTIONS,
    SEND_MESSAGE,
    SERVER_CLOSE,
    SEND_CLOSE_FRAME,
    PROCESS,
    HANDLE_REPLY,
)
# autobahn's copies of the handshake on a server connection, and the only methods that
# read them (checked in problems(): none is read once the connection is open).
HANDSHAKE_COPIES = (
    "http_request_data",
    "http_status_line",
    "http_headers",
    "http_request_uri",
    "http_request_path",
    "http_request_params",
    "http_request_host",
    "http_response_data",
)
HANDSHAKE_METHODS = frozenset({"processHandshake", "succeedHandshake"})
# daphne's list of the handshake's headers (the scope's, which realtime.middleware does
# not pass on), read only in its onConnect.
DAPHNE_HEADERS = "clean_headers"
# Close codes the server may send that autobahn refuses from an application.
RESTART_CODES = frozenset({1012, 1013})

# What the write patches read on a live TCP connection.
CONNECTION_ATTRIBUTES = (
    "connected",
    "disconnecting",
    "TLS",
    "_writeDisconnected",
    "dataBuffer",
    "offset",
    "_tempDataBuffer",
    "_tempDataLen",
    "socket",
    "abortConnection",
)


@dataclass
class _State:
    installed: bool = False
    refused: list[str] = field(default_factory=list)
    # (owner, name, what owner.__dict__ held: None if the method was inherited)
    originals: list[tuple[type | ModuleType, str, Any]] = field(default_factory=list)
    send_limit: int = 0  # 0: no limit
    # Seconds a refused handshake should come back after, or None to take it.
    handshake_gate: Callable[[], int | None] | None = None


_state = _State()


def problems() -> list[str]:
    """What differs from the versions and shapes the patches were written for."""
    found = []
    for package, tested in TESTED_VERSIONS.items():
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            found.append(f"{package} is not installed")
            continue
        if version != tested:
            found.append(f"{package} is {version}, the patches were tested with {tested}")
    for target in TARGETS:
        method = target.current()
        if not callable(method):
            found.append(f"{target.owner.__name__}.{target.name} is gone")
            continue
        if target.shape_of(method) != target.expected_shape():
            parameters = tuple(inspect.signature(method).parameters)
            found.append(f"{target.owner.__name__}.{target.name}{parameters} changed shape")
    missing = [name for name in CONNECTION_ATTRIBUTES if not hasattr(_probe_connection(), name)]
    if missing:
        found.append(f"twisted TCP connections lack {', '.join(missing)}")
    if "maxMessagePayloadSize" not in _source(SEND_MESSAGE.current()):
        found.append("autobahn's sendMessage no longer reads maxMessagePayloadSize")
    if "failByDrop" not in _source(WebSocketProtocol):
        found.append("autobahn no longer reads failByDrop")
    if not isinstance(getattr(DaphneWebSocketProtocol, "CONFIG_ATTRS", None), list | tuple):
        found.append("autobahn's server protocol no longer lists CONFIG_ATTRS")
    elif "CONFIG_ATTRS" not in _source(WebSocketProtocol._connectionMade):
        found.append("autobahn no longer copies CONFIG_ATTRS at connection")
    create = _source(CREATE_APPLICATION.current())
    if "asyncio.Queue()" not in create or "receive=input_queue.get" not in create:
        found.append("daphne's create_application no longer makes an asyncio.Queue")
    process = _source(PROCESS.current())
    if b"Upgrade" not in process.encode():
        found.append("daphne's WebRequest.process no longer reads the Upgrade header")
    if "transport, self.transport = self.transport, None" not in process:
        found.append("daphne's WebRequest.process no longer lets go of an upgrade's transport")
    if "self.requests = []" not in _source(twisted_http.HTTPChannel.__init__):
        found.append("twisted's HTTPChannel no longer queues its requests in a list")
    found.extend(_handshake_readers())
    if set(re.findall(r"send_queue\.(\w+)", _source(autobahn_protocol))) != {"append", "popleft"}:
        found.append("autobahn's send queue is used for more than append and popleft")
    return found


def _handshake_readers() -> list[str]:
    """Methods of daphne's protocol (and the classes it inherits) that read autobahn's
    handshake copies outside the handshake, or daphne's request beyond its path."""
    found = []
    for cls in DaphneWebSocketProtocol.__mro__:
        for name, member in vars(cls).items():
            if name in HANDSHAKE_METHODS or not callable(member):
                continue
            source = _source(member)
            read = [copy for copy in HANDSHAKE_COPIES if copy in source]
            if DAPHNE_HEADERS in source and name != "onConnect":
                read.append(DAPHNE_HEADERS)
            if read:
                found.append(f"{cls.__name__}.{name} reads {', '.join(read)}")
    daphne_module = inspect.getmodule(DaphneWebSocketProtocol)
    request_fields = set(re.findall(r"self\.request\.(\w+)", _source(daphne_module)))
    if request_fields - {"path"}:
        found.append(f"daphne's WebSocketProtocol reads its request's {sorted(request_fields)}")
    return found


def _source(thing: Any) -> str:
    try:
        return inspect.getsource(thing)
    except (OSError, TypeError):
        return ""


def _probe_connection() -> Any:
    """A real twisted TCP connection (over a socket pair), to see what it carries."""

    class NoReactor:
        pass

    ours, peer = socket.socketpair()
    try:
        # Neither is used by the attributes read; Any says so to the type checker.
        no_protocol: Any = None
        no_reactor: Any = NoReactor()
        return tcp.Connection(ours, protocol=no_protocol, reactor=no_reactor)
    finally:
        ours.close()
        peer.close()


def install(
    *,
    direct_writes: bool,
    send_limit: int,
    handshake_gate: Callable[[], int | None] | None = None,
) -> bool:
    """Patch once (a second call only updates the send limit and the gate); False if
    refused."""
    _state.send_limit = send_limit
    _state.handshake_gate = handshake_gate
    if _state.installed:
        return True
    found = problems()
    if found:
        _state.refused = found
        logger.warning(
            "server patches not installed, running unpatched (correct, but slower; see "
            "realtime/server/patches.py): %s",
            "; ".join(found),
        )
        return False
    _replace(RESET_OPTIONS, _close_frames)
    _replace(SEND_MESSAGE, _client_only_size_limit)
    _replace(SERVER_CLOSE, _restart_close_codes)
    _replace(PROCESS, _shed_handshakes)
    _replace(PROCESS, _release_upgraded)  # wraps the shedding
    _replace(BUILD_PROTOCOL, _options_on_class)
    _replace(PFORMAT, _omitted)
    _replace(CREATE_APPLICATION, _small_queue)
    _replace(ON_OPEN, _handshake_let_go)
    if direct_writes:
        _replace(WRITE, _direct_write)
    _replace(WRITE, _send_limited)  # wraps whichever write is in place
    _state.installed, _state.refused = True, []
    return True


def uninstall() -> None:
    """Put every original back, last patched first (and forget a refusal)."""
    while _state.originals:
        owner, name, original = _state.originals.pop()
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _state.installed, _state.refused = False, []


def installed() -> bool:
    return _state.installed


def state() -> str:
    """For readiness: "ok" when installed, "refused" when ``install()`` refused them (why
    is in the log), "not installed" when it was not asked (a process not under daphne)."""
    if _state.installed:
        return "ok"
    return "refused" if _state.refused else "not installed"


def daphne_size_flags(max_frame: int) -> list[str]:
    """daphne's size options for this process, decided before daphne builds its factory:
    client frames and messages limited to ``max_frame`` when the patches install (they
    keep the message limit off outgoing messages); when they would be refused, frames
    only (autobahn checks them on the way in only), so a history page or a resume of any
    size still goes out."""
    patched = _state.installed or not problems()
    message_limit = max_frame if patched else 0  # 0: no limit
    return [
        *("--websocket-max-message-size", str(message_limit)),
        *("--websocket-max-frame-size", str(max_frame)),
    ]


def refused() -> list[str]:
    """Why the last ``install()`` refused (empty if it did not)."""
    return list(_state.refused)


def _replace(target: Target, make: Callable[[Any], Any]) -> None:
    _state.originals.append((target.owner, target.name, target.owner.__dict__.get(target.name)))
    setattr(target.owner, target.name, make(target.current()))


def _options_on_class(build: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def build_protocol(self: Any, addr: Any) -> Any:
        names = DaphneWebSocketProtocol.CONFIG_ATTRS
        options = tuple(getattr(self, name) for name in names)
        made = self.__dict__.get("_rtsite_protocol")
        if made is None or made[0] != options:
            base = type(self).protocol
            # A function option (perMessageCompressionAccept) must not become a method.
            values = [staticmethod(v) if callable(v) else v for v in options]
            attributes = {**dict(zip(names, values, strict=True)), "_rtsite_defaults": True}
            made = (options, type(base.__name__, (base,), attributes))
            self._rtsite_protocol = made
        self.protocol = made[1]  # on the factory, over its class's
        return build(self, addr)

    return build_protocol


def _omitted(pformat: Callable[..., str]) -> Callable[..., str]:
    def omitted(*args: Any, **kwargs: Any) -> str:
        return "(omitted)"

    return omitted


def _small_queue(create: Callable[[Any, Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    # daphne's own body (4.2), with ApplicationQueue in place of asyncio.Queue.
    def create_application(self: Any, protocol: Any, scope: dict[str, Any]) -> Any:
        if "application_instance" in self.connections[protocol]:
            raise RuntimeError("an application was already made for this connection")
        input_queue = ApplicationQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope,
            receive=input_queue.get,
            send=functools.partial(self.handle_reply, protocol),
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop()
        )
        return input_queue

    return create_application


def buffered(connection: Any) -> int:
    """Bytes a connection has queued and not yet handed to the kernel."""
    return len(connection.dataBuffer) - connection.offset + connection._tempDataLen


def _direct_write(buffered_write: Callable[[Any, bytes], None]) -> Callable[[Any, bytes], None]:
    def write(self: Any, data: bytes) -> None:
        if (
            data
            and self.connected
            and not self.TLS
            and not self._writeDisconnected
            and not self.dataBuffer
            and not self._tempDataBuffer
        ):
            try:
                sent = self.socket.send(data)
            except OSError:  # would block, or a real error: twisted's path decides
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        buffered_write(self, data)

    return write


def _send_limited(write: Callable[[Any, bytes], None]) -> Callable[[Any, bytes], None]:
    def limited_write(self: Any, data: bytes) -> None:
        # Checked before the write: one large frame (a resume) may exceed the limit by
        # itself; what is dropped is a client still that far behind at the next frame.
        limit = _state.send_limit
        if limit and self.connected and not self.disconnecting and buffered(self) > limit:
            logger.warning(
                "dropping a client that is not reading (%d bytes unsent)", buffered(self)
            )
            self.abortConnection()
            return
        write(self, data)

    return limited_write


def _close_frames(reset: Callable[[Any], None]) -> Callable[[Any], None]:
    def reset_protocol_options(self: Any) -> None:
        reset(self)
        self.failByDrop = False

    return reset_protocol_options


def _client_only_size_limit(send: Callable[..., None]) -> Callable[..., None]:
    def send_message(self: Any, payload: bytes, *args: Any, **kwargs: Any) -> None:
        limit = self.maxMessagePayloadSize
        self.maxMessagePayloadSize = 0  # outgoing: not limited (single-threaded reactor)
        try:
            send(self, payload, *args, **kwargs)
        finally:
            self.maxMessagePayloadSize = limit

    return send_message


def closes_with_restart_codes() -> bool:
    """Whether a server close with 1012/1013 reaches the client as such."""
    return _state.installed


def _restart_close_codes(server_close: Callable[..., None]) -> Callable[..., None]:
    def close(self: Any, code: int | None = None) -> None:
        if code in RESTART_CODES:
            # autobahn's own sendClose refuses these from an application; the frame
            # itself is valid (RFC 6455 7.4.1, IANA registry).
            self.sendCloseFrame(code=code, isReply=False)
            return
        server_close(self, code)

    return close


def _shed_handshakes(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(process)
    def shed_or_process(self: Any) -> Any:
        gate = _state.handshake_gate
        upgrade = self.requestHeaders.getRawHeaders(b"Upgrade") or [b""]
        if gate is not None and upgrade[0].lower() == b"websocket":
            retry_after = gate()
            if retry_after is not None:
                self.handle_reply(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"Content-Type", b"text/plain; charset=utf-8"),
                            (b"Retry-After", str(retry_after).encode()),
                        ],
                    }
                )
                self.handle_reply(
                    {"type": "http.response.body", "body": b"busy: try again later\n"}
                )
                return None
        return process(self)

    return shed_or_process


def _release_upgraded(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(process)  # the checks in problems() read daphne's source through it
    def process_then_release(self: Any) -> Any:
        channel = self.channel
        result = process(self)
        # Only an upgrade leaves the request without a transport (daphne handed it to the
        # WebSocket protocol); a request answered here (503, 400) already left the queue.
        if self.transport is None and channel is not None and self in channel.requests:
            channel.requests.remove(self)
        return result

    return process_then_release


# Values an attribute may share with its class: immutable (and falsy, checked there).
SHAREABLE = frozenset({type(None), bool, int, float, bytes, str})


def _handshake_let_go(on_open: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(on_open)
    def open_then_let_go(self: Any) -> None:
        on_open(self)
        self.request = OpenedRequest(self.request.path)
        for name in (*HANDSHAKE_COPIES, DAPHNE_HEADERS):
            self.__dict__.pop(name, None)
        if not self.send_queue:
            self.send_queue = SendQueue()
        cls = type(self)
        if "_rtsite_defaults" in cls.__dict__:  # our class per factory (_options_on_class)
            for name, value in list(vars(self).items()):
                if value or type(value) not in SHAREABLE:
                    continue
                if not hasattr(cls, name):
                    setattr(cls, name, value)
                shared = getattr(cls, name)
                if type(shared) is type(value) and shared == value:
                    del self.__dict__[name]
            self.__dict__ = dict(self.__dict__)  # a table sized for what is left

    return open_then_let_go
