"""`make serve`: every core of a host, one listening socket, a process manager.

N daphne processes share one listening socket (the ``--fd`` recipe of the Channels
deployment docs): supervisor opens the socket once (``fcgi-program``) and each worker
inherits it as its standard input; the kernel hands each new connection to whichever
worker accepts first, so a busy or frozen worker takes none. supervisor restarts a worker
that dies, stops them with SIGTERM (each drains: realtime/server/drain.py) and waits for the drain
before it would SIGKILL. Why supervisor and not circus is in docs/decisions.md.

``--restart`` restarts the workers of a running ``serve`` one at a time (a rolling
restart: each drains while the others serve).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import sys
import time
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from supervisor.xmlrpc import SupervisorTransport

from common.redis import get_redis
from realtime.registry import alive_key, registry_key


class ServeError(Exception):
    """A serve that cannot start or restart, said to the operator."""


PROGRAM = "rtsite"


def serve_dir() -> Path:
    return Path(settings.VAR_DIR) / "serve"


def config_path() -> Path:
    return serve_dir() / "supervisord.conf"


def control_socket() -> Path:
    return serve_dir() / "supervisor.sock"


def render_config(*, workers: int, host: str, port: int, max_frame: int) -> str:
    """supervisord.conf for ``workers`` daphne processes on ``host:port``."""
    directory = serve_dir()
    python = sys.executable
    stop_wait = int(settings.RT_DRAIN_SECONDS + settings.RT_DRAIN_GRACE_SECONDS + 15)
    daphne = " ".join(
        [
            # No --proxy-headers: it believes the left-most X-Forwarded-For entry, which
            # the client writes; the site reads the header itself (common/proxies.py).
            # daphne through realtime.server.rundaphne: each worker decides its size limits when
            # it starts, with the server patches' guard (a worker restarted after an
            # upgrade too).
            f"{python} -m realtime.server.rundaphne --fd 0",
            # rtsite.access lines replace daphne's own (text only, the proxy's address):
            # at verbosity 0 daphne formats none (written to /dev/null, they still cost
            # a connect some of its time).
            "-v 0",
            f"--max-frame {max_frame}",
            "rtsite.asgi:application",
        ]
    )
    return f"""; Written by `manage.py serve` at each start: edit the command, not this file.
[supervisord]
nodaemon=true
logfile={directory}/supervisord.log
pidfile={directory}/supervisord.pid
childlogdir={directory}
directory={settings.BASE_DIR}

[unix_http_server]
file={control_socket()}
chmod=0700

[supervisorctl]
serverurl=unix://{control_socket()}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[fcgi-program:{PROGRAM}]
socket=tcp://{host}:{port}
socket_backlog=2048
command={daphne}
numprocs={workers}
process_name=worker_%(process_num)02d
directory={settings.BASE_DIR}
autostart=true
autorestart=true
startsecs=1
startretries=10
stopsignal=TERM
stopwaitsecs={stop_wait}
killasgroup=true
redirect_stderr=true
stdout_logfile={directory}/worker_%(process_num)02d.log
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=3

[program:watchdog]
command={python} {settings.BASE_DIR}/manage.py serve --watchdog
directory={settings.BASE_DIR}
autostart=true
autorestart=true
redirect_stderr=true
stdout_logfile={directory}/watchdog.log
stdout_logfile_maxbytes=5MB
stdout_logfile_backups=1
"""


def control() -> Any:
    """supervisord's XML-RPC interface, over its unix socket."""
    transport = SupervisorTransport(None, None, f"unix://{control_socket()}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def raise_open_files_limit() -> None:
    """Each socket is an open file, and systemd starts a service with a soft limit of
    1024 (its hard limit: 524288 on Debian 12). supervisord and the workers inherit the
    hard one, so the unit needs no LimitNOFILE, which a host may refuse."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_until_registered(pid: int, *, timeout: float) -> bool:
    """Whether the worker ``pid`` registered (its heartbeat runs: realtime.processes)."""

    client = get_redis(timeout=5.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process_id in cast("set[str]", client.smembers(registry_key())):  # decoded
            info = client.get(alive_key(process_id))
            if info and json.loads(info).get("pid") == pid:
                return True
        time.sleep(0.2)
    return False


def registered_pids() -> set[int]:
    """The pids of this host's processes whose heartbeat is current."""

    client = get_redis(timeout=5.0)
    host = socket.gethostname()
    pids = set()
    for process_id in cast("set[str]", client.smembers(registry_key())):  # decoded
        info = client.get(alive_key(process_id))
        if info:
            record = json.loads(info)
            if record.get("host") == host:
                pids.add(record["pid"])
    return pids


def write_config(*, workers: int, host: str, port: int, max_frame: int) -> str:
    """supervisord's configuration, written to ``config_path()`` and returned."""
    if workers < 1:
        raise ServeError("--workers must be at least 1")
    serve_dir().mkdir(parents=True, exist_ok=True)
    config = render_config(workers=workers, host=host, port=port, max_frame=max_frame)
    config_path().write_text(config)
    return config


def start(
    *, workers: int, host: str, port: int, max_frame: int, say: Callable[[str], None]
) -> None:
    """Write supervisord's configuration and become supervisord (it starts the workers
    and the watchdog)."""
    write_config(workers=workers, host=host, port=port, max_frame=max_frame)
    directory = serve_dir()
    # prometheus-client's multiprocess mode: every worker writes its values here,
    # and whichever answers a scrape adds them up. Emptied at each start.
    metrics_dir = directory / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    raise_open_files_limit()
    supervisord = Path(sys.executable).parent / "supervisord"
    say(
        f"rtsite: {workers} worker(s) on http://{host}:{port}/ (logs in {directory};"
        " Ctrl+C or SIGTERM drains and stops)"
    )
    sys.stdout.flush()
    os.execv(supervisord, [str(supervisord), "-c", str(config_path())])  # noqa: S606


def watch(say: Callable[[str], None]) -> None:
    """Liveness for the workers, which a probe through the shared socket cannot
    target one by one: a worker RUNNING for supervisor whose heartbeat (its alive key
    in Redis, renewed by its event loop every RT_HEARTBEAT_SECONDS) has been missing
    for RT_WATCHDOG_SECONDS is frozen or wedged: SIGKILL it, and supervisor starts
    another. Its sockets resume on the other workers."""
    limit = settings.RT_WATCHDOG_SECONDS
    if limit <= 0:
        say("watchdog off (RT_WATCHDOG_SECONDS=0)")
        while True:
            time.sleep(3600)
    heard: dict[int, float] = {}  # pid -> when its heartbeat was last seen
    while True:
        time.sleep(min(1.0, limit / 4))
        try:
            workers = [
                info
                for info in control().supervisor.getAllProcessInfo()
                if info["group"] == PROGRAM and info["statename"] == "RUNNING"
            ]
            beating = registered_pids()
        except Exception as error:  # supervisor or Redis away: look again soon
            say(f"watchdog: {error}")
            continue
        now = time.monotonic()
        for info in workers:
            pid = info["pid"]
            if pid in beating or pid not in heard:
                heard[pid] = now  # a new worker gets the limit to start beating
            elif now - heard[pid] > limit:
                say(f"watchdog: {info['name']} (pid {pid}) silent for {limit:g} s: killed")
                sys.stdout.flush()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                heard.pop(pid)
        running = {info["pid"] for info in workers}
        for pid in set(heard) - running:
            heard.pop(pid)


def rolling_restart(say: Callable[[str], None]) -> None:
    """Each worker in turn: SIGTERM (it drains; the others serve), then started again."""
    server = control()
    try:
        workers = [
            info for info in server.supervisor.getAllProcessInfo() if info["group"] == PROGRAM
        ]
    except OSError as error:
        raise ServeError(f"no running serve to restart ({control_socket()}): {error}") from None
    for info in sorted(workers, key=lambda info: info["name"]):
        name = f"{PROGRAM}:{info['name']}"
        started = time.monotonic()
        server.supervisor.stopProcess(name, True)
        server.supervisor.startProcess(name, True)
        pid = server.supervisor.getProcessInfo(name)["pid"]
        if not wait_until_registered(pid, timeout=30):
            raise ServeError(f"{name} (pid {pid}) did not come up; stopping the restart")
        say(f"{name} restarted in {time.monotonic() - started:.1f} s")
