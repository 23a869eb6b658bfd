"""The servers under test: ours (rtsite on daphne), and the two peers.

Each stack starts its own server processes on loopback, prepares whatever its sockets
need (users, sessions, rooms), and knows its wire format: how to publish a numbered
message and how to read the number back from a delivery.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"


def var_dir() -> Path:
    """Where the bench keeps its SQLite, embedded Redis and server logs."""
    path = Path(os.environ.get("RTSITE_VAR_DIR", BENCH_VAR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], path: str | None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {process.returncode}")
        try:
            if path is None:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            else:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def stop_embedded_redis() -> None:
    """Stop the bench's embedded Redis (under var/bench/), if Django was set up on it."""
    from django.conf import settings

    if settings.configured and settings.EMBEDDED_REDIS:
        from common import embedded_redis

        embedded_redis.stop(settings.EMBEDDED_REDIS_DIR)


def bench_env() -> dict[str, str]:
    """Settings for our stack under load: its own SQLite and embedded Redis under
    var/bench/ (unless DATABASE_URL / REDIS_URL say otherwise), and a rate limit high
    enough for one publisher socket to drive the whole load."""
    env = dict(os.environ)
    env["RTSITE_VAR_DIR"] = str(var_dir())
    # Its own embedded Redis under that folder, never the test suite's (which it would
    # stop at the end, under the tests still running).
    env.pop("RTSITE_REDIS_DIR", None)
    env.update(
        SECRET_KEY="bench-only-secret",  # noqa: S106 - a throwaway local server
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        RT_RATE_LIMIT_PER_SECOND="100000",
        RT_RATE_LIMIT_BURST="100000",
        CHAT_POST_RATE_PER_SECOND="100000",
        CHAT_POST_BURST="100000",
        # Every load client comes from 127.0.0.1.
        RT_MAX_SOCKETS_PER_ADDRESS="1000000",
        # A run stops its servers with SIGTERM: a short drain, not the 10 s default.
        RT_DRAIN_SECONDS="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def daphne_command(port: int, application: str) -> list[str]:
    # The same accept backlog and frame limit for every stack: compare servers, not
    # kernel queues or settings.
    # daphne as `make serve` runs it: through realtime.server.rundaphne, which passes the
    # frame limit only where the server patches are installed; no access lines of
    # daphne's own (ours are rtsite.access). A peer's app (bench.peers) gets daphne's
    # plain options; our site and the tracers that wrap it go through rundaphne.
    endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=2048"
    if not application.startswith("bench.peers."):
        launcher = ["-m", "realtime.server.rundaphne", "--max-frame", "32768"]
    else:
        launcher = ["-m", "daphne", "--websocket-max-message-size", "32768"]
        launcher += ["--websocket-max-frame-size", "32768"]
    return [sys.executable, *launcher, "-v", "0", "-e", endpoint, application]


@dataclass
class Stack:
    name: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    # -- lifecycle
    def start(self, count: int = 1) -> None:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(
                self.command(port),
                cwd=ROOT,
                env=self.env(),
                stdout=subprocess.DEVNULL,
                stderr=open(var_dir() / f"{self.name}-{port}.log", "wb"),  # noqa: SIM115
            )
            _wait_for_port(port, process, self.health_path)
            self.processes.append(process)
            self.ports.append(port)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        self.ports.clear()

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    # -- what each stack defines
    health_path: str | None = None

    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return bench_env()

    def prepare(self, users: int, rooms: list[str]) -> list[dict[str, str]]:
        """Headers for each user's sockets (cookies where the stack authenticates)."""
        return [{} for _ in range(users)]

    def url(self, port: int, room: str) -> str:
        raise NotImplementedError

    def joined(self, first_frame: str | None) -> bool:
        """Whether a socket counts as joined (ours: after its sync frame)."""
        return True

    def waits_for_first_frame(self) -> bool:
        return False

    def publish(self, tag: str) -> str:
        raise NotImplementedError

    def read(self, raw: str, prefix: str) -> str | None:
        raise NotImplementedError

    def reply(self, raw: str, client: Any) -> str | None:
        """A frame the member's page sends back on receiving ``raw`` (none by default)."""
        return None

    def stored(self, prefix: str) -> list[str]:
        """Bodies stored with this prefix (only a stack that persists has any)."""
        return []


class Ours(Stack):
    health_path = "/healthz"

    def __init__(self) -> None:
        super().__init__(name="ours")

    def command(self, port: int) -> list[str]:
        return daphne_command(port, "rtsite.asgi:application")

    def setup_django(self) -> None:
        # The same settings as the servers it starts (the session cookies it makes
        # are signed with SECRET_KEY, so that must match above all).
        os.environ.update(bench_env())
        os.environ.pop("RTSITE_REDIS_DIR", None)  # as bench_env: the bench's own Redis
        os.environ["DJANGO_SETTINGS_MODULE"] = "rtsite.settings"
        import django

        django.setup()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=ROOT,
            env=bench_env(),
            check=True,
        )

    def prepare(self, users: int, rooms: list[str]) -> list[dict[str, str]]:
        from django.conf import settings
        from django.contrib.auth import (
            BACKEND_SESSION_KEY,
            HASH_SESSION_KEY,
            SESSION_KEY,
            get_user_model,
        )
        from django.contrib.auth.hashers import make_password
        from django.db import transaction

        from chat.models import Room

        user_model = get_user_model()
        names = [f"bench{i:05d}" for i in range(users)]
        existing = set(
            user_model.objects.filter(username__in=names).values_list("username", flat=True)
        )
        unusable = make_password(None)
        user_model.objects.bulk_create(
            [user_model(username=n, password=unusable) for n in names if n not in existing]
        )
        for slug in rooms:
            # Retention 0 so every message of a run can be counted afterwards.
            Room.objects.update_or_create(slug=slug, defaults={"title": slug, "retention": 0})
        # The site's own session store (cached_db: the cache holds them too).
        SessionStore = import_module(settings.SESSION_ENGINE).SessionStore  # noqa: N806
        headers = []
        with transaction.atomic():
            for user in user_model.objects.filter(username__in=names).order_by("username"):
                session = SessionStore()
                session[SESSION_KEY] = str(user.pk)
                session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
                session[HASH_SESSION_KEY] = user.get_session_auth_hash()
                session.create()
                headers.append({"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"})
        return headers

    def _logins(self, headers: list[dict[str, str]]) -> tuple[list[str], list[str]]:
        """The cache keys of these cookies' sessions, and of their users' rows."""
        from django.conf import settings
        from django.contrib.auth import SESSION_KEY

        from realtime.logins import user_cache_key

        store = import_module(settings.SESSION_ENGINE).SessionStore
        sessions = [store(h["Cookie"].split("=", 1)[1]) for h in headers if "Cookie" in h]
        user_keys = [user_cache_key(session[SESSION_KEY]) for session in sessions]
        return [session.cache_key for session in sessions], user_keys

    def cache_logins(self, headers: list[dict[str, str]]) -> None:
        """Sessions and users in the cache, as after their first socket (warm)."""
        from django.contrib.auth import get_user_model
        from django.core.cache import cache

        from realtime.logins import user_cache_key

        _sessions, user_keys = self._logins(headers)  # reading them caches the sessions
        users = get_user_model().objects.filter(username__startswith="bench")
        wanted = set(user_keys)
        cache.set_many(
            {key: user for user in users if (key := user_cache_key(user.pk)) in wanted},
            timeout=3600,
        )

    def forget_logins(self, headers: list[dict[str, str]]) -> None:
        """Sessions and users gone from the cache (a Redis restart, a new deploy): the next
        sockets read them from the database."""
        from django.core.cache import cache

        session_keys, user_keys = self._logins(headers)
        cache.delete_many(session_keys + user_keys)

    def url(self, port: int, room: str) -> str:
        return f"ws://127.0.0.1:{port}/ws/chat/{room}/"

    def waits_for_first_frame(self) -> bool:
        return True

    def joined(self, first_frame: str | None) -> bool:
        return first_frame is not None and first_frame.startswith('{"type":"sync"')

    def publish(self, tag: str) -> str:
        return json.dumps({"type": "message.send", "body": tag})

    def read(self, raw: str, prefix: str) -> str | None:
        if not raw.startswith('{"type":"message"'):
            return None
        body: str = json.loads(raw)["message"]["body"]
        return body if body.startswith(prefix) else None

    def stored(self, prefix: str) -> list[str]:
        from chat.models import Message

        return list(Message.objects.filter(body__startswith=prefix).values_list("body", flat=True))


class OursOn(Ours):
    """Our site served by another ASGI module that wraps it (a tracer: bench.hoptrace,
    bench.memtrace), with settings of its own added to the environment."""

    def __init__(self, application: str, **extra_env: str) -> None:
        super().__init__()
        self.application = application
        self.extra_env = extra_env

    def command(self, port: int) -> list[str]:
        return daphne_command(port, self.application)

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra_env}


class OursUpdates(Ours):
    """Edits and reactions, in turn, on one message of a room: each change reaches every
    member as ``message.updated``. A change is known by the room's change counter
    (``seq``), which the publisher's changes advance one by one."""

    target_id = 0
    base_seq = 0

    def prepare_target(self, room: str, author_index: int = 0) -> None:
        from django.contrib.auth import get_user_model

        from chat import services
        from chat.models import Room

        author = get_user_model().objects.get(username=f"bench{author_index:05d}")
        target = services.message_post(
            room=Room.objects.get(slug=room), author=author, body="the message everyone edits"
        )
        self.target_id = target.pk
        self.base_seq = target.seq

    def publish(self, tag: str) -> str:
        k = int(tag.rsplit(":", 1)[1])
        if k % 2 == 0:
            return json.dumps({"type": "message.edit", "id": self.target_id, "body": f"edit {k}"})
        return json.dumps({"type": "reaction.toggle", "id": self.target_id, "emoji": "👍"})

    def read(self, raw: str, prefix: str) -> str | None:
        if not raw.startswith('{"type":"message.updated"'):
            return None
        return f"{prefix}{json.loads(raw)['message']['seq'] - self.base_seq - 1}"


READ_EVERY_SECONDS = 5.0


class OursReading(Ours):
    """Every member reads along: its page reports the newest message read, as a visible
    page does while messages keep coming, every five seconds (room.js's
    READ_MAX_WAIT_MS). ``batch`` is CHAT_READ_BATCH_SECONDS: 0 writes each cursor at
    once."""

    def __init__(self, batch: float) -> None:
        super().__init__()
        self.batch = batch

    def env(self) -> dict[str, str]:
        return {**bench_env(), "CHAT_READ_BATCH_SECONDS": str(self.batch)}

    def reply(self, raw: str, client: Any) -> str | None:
        if not raw.startswith('{"type":"message"'):
            return None
        now = time.monotonic()
        if not client.replied_at:  # pages jitter their timers (room.js)
            client.replied_at = now - random.uniform(0, READ_EVERY_SECONDS)
        if now - client.replied_at < READ_EVERY_SECONDS:
            return None
        client.replied_at = now
        return json.dumps({"type": "read", "id": json.loads(raw)["message"]["id"]})


class OursNotifications(Ours):
    """Our notifications socket: one per user, a notification to all users at a time."""

    def url(self, port: int, room: str) -> str:
        return f"ws://127.0.0.1:{port}/ws/notifications/"

    def read(self, raw: str, prefix: str) -> str | None:
        if not raw.startswith('{"type":"notification"'):
            return None
        title: str = json.loads(raw)["notification"]["title"]
        return title if title.startswith(prefix) else None

    def send_to_all(self, tag: str) -> None:
        """What staff or ``manage.py send_notification --all`` do: store, commit, publish."""
        from notifications.services import notification_send

        notification_send(title=tag, to_all_users=True)


class Tutorial(Stack):
    """The Channels tutorial consumer on the default RedisChannelLayer, under daphne."""

    def __init__(self) -> None:
        super().__init__(name="tutorial")

    def command(self, port: int) -> list[str]:
        return daphne_command(port, "bench.peers.tutorial.asgi:application")

    def env(self) -> dict[str, str]:
        from django.conf import settings

        env = bench_env()
        env["DJANGO_SETTINGS_MODULE"] = "bench.peers.tutorial.settings"
        env["REDIS_URL"] = settings.REDIS_URL  # the same Redis server as ours
        return env

    def url(self, port: int, room: str) -> str:
        return f"ws://127.0.0.1:{port}/ws/chat/{room}/"

    def publish(self, tag: str) -> str:
        return json.dumps({"message": tag})

    def read(self, raw: str, prefix: str) -> str | None:
        message: str = json.loads(raw)["message"]
        return message if message.startswith(prefix) else None


class Tornado(Stack):
    """The seed's Tornado broadcaster: in-process socket list, nothing stored."""

    def __init__(self) -> None:
        super().__init__(name="tornado")

    def command(self, port: int) -> list[str]:
        return [sys.executable, str(ROOT / "bench" / "peers" / "tornado_broadcast.py"), str(port)]

    def url(self, port: int, room: str) -> str:
        return f"ws://127.0.0.1:{port}/websocket/{room}"

    def publish(self, tag: str) -> str:
        return tag

    def read(self, raw: str, prefix: str) -> str | None:
        return raw if raw.startswith(prefix) else None


class OursOnUvicorn(Ours):
    """Our site on uvicorn (uvloop, httptools, websockets-sansio) instead of daphne: the
    other servers compared (``--stacks ours,ours-uvicorn,ours-granian``; the servers are
    not in requirements-dev.txt: ``pip install -r bench/requirements-servers.txt``)."""

    def __init__(self) -> None:
        Stack.__init__(self, name="ours-uvicorn")

    def command(self, port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)),
            *("--backlog", "2048", "--loop", "uvloop", "--http", "httptools"),
            *("--ws", "websockets-sansio", "--ws-max-size", "32768"),
            *("--log-level", "warning", "--no-access-log", "rtsite.asgi:application"),
        ]


class OursOnGranian(Ours):
    """Our site on granian (Rust, ASGI interface), one worker."""

    def __init__(self) -> None:
        Stack.__init__(self, name="ours-granian")

    def command(self, port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"),
            *("--port", str(port), "--backlog", "2048", "--workers", "1"),
            *("--log-level", "warning", "rtsite.asgi:application"),
        ]


STACKS: dict[str, type[Stack]] = {
    "ours": Ours,
    "tornado": Tornado,
    "tutorial": Tutorial,
    "ours-uvicorn": OursOnUvicorn,
    "ours-granian": OursOnGranian,
}


def make(name: str) -> Any:
    return STACKS[name]()
