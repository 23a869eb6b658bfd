"""Prometheus metrics (prometheus-client), served at /metrics
(``realtime.server.views.metrics_view``).

Under ``make serve`` several daphne processes share one listening socket, so a scrape
reaches any one of them: they write their values to files in PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode, set up by the serve command) and the one that
answers adds them up. Without that variable (``make run``, tests) each process reports
its own values.

The hot paths (a frame in, a broadcast delivered) count once per frame or per broadcast,
never per socket of a broadcast: a fan-out to 1,000 sockets is one ``inc(1000)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# Up to minutes: a hub can fall that far behind (Redis paused, a frozen process).
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)

SOCKETS_OPEN = Gauge(
    "rtsite_sockets_open", "Open WebSockets, by app.", ["app"], multiprocess_mode="livesum"
)
# Each worker's own count (under ``make serve`` the samples carry its ``pid``): how evenly
# the shared listening socket spreads them (``realtime.server.rebalance``).
WORKER_SOCKETS = Gauge(
    "rtsite_worker_sockets_open", "Open WebSockets of this worker.", multiprocess_mode="liveall"
)
SOCKETS_OPENED = Counter("rtsite_sockets_opened", "WebSockets accepted, by app.", ["app"])
CLOSES = Counter(
    "rtsite_socket_closes", "WebSockets closed, by app and close code.", ["app", "code"]
)
FRAMES_IN = Counter("rtsite_frames_in", "Frames received from clients, by app.", ["app"])
FRAMES_OUT = Counter(
    "rtsite_frames_out", "Frames sent to clients as replies (not broadcasts), by app.", ["app"]
)
FRAME_SECONDS = Histogram(
    "rtsite_frame_reply_seconds",
    "From a client frame's arrival to its reply, by app and frame type (a post: stored, "
    "broadcast, then acked).",
    ["app", "type"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "rtsite_http_requests", "HTTP requests, by view (URL name) and status.", ["view", "status"]
)
HTTP_SECONDS = Histogram(
    "rtsite_http_request_seconds",
    "HTTP requests' time through Django, by view (URL name).",
    ["view"],
    buckets=LATENCY_BUCKETS,
)
REFUSED = Counter(
    "rtsite_frames_refused",
    "Client frames answered with an error (rate_limited, bad_frame, ...), by app and code.",
    ["app", "code"],
)
DELIVERIES = Counter(
    "rtsite_deliveries", "Broadcast frames handed to this process's sockets by its hub."
)
HUB_EVENTS = Counter("rtsite_hub_events", "Broadcasts this process's hub received.")
HUB_EVENT_AGE = Histogram(
    "rtsite_hub_event_age_seconds",
    "How old a broadcast was when this process's hub got it (publish to receive).",
    buckets=LAG_BUCKETS,
)
STALE_EVENTS = Counter(
    "rtsite_hub_events_stale",
    "Broadcasts this process's hub got too late to deliver (RT_STALE_EVENT_SECONDS): "
    "their sockets resync instead.",
)
BROADCAST_FAILURES = Counter(
    "rtsite_broadcast_failures",
    "Broadcasts that could not be handed to the channel layer (their sockets recover "
    "what was stored on resume).",
)
RESYNCS = Counter(
    "rtsite_resyncs", "Sockets told to resync from their cursor (broadcasts lost or late).", ["why"]
)
SHED = Counter(
    "rtsite_handshakes_shed", "WebSocket handshakes refused with 503 (more than could be served)."
)
CONNECT_SECONDS = Gauge(
    "rtsite_connect_seconds",
    "Time between two finished connects while busy (a moving average): a process serves "
    "RT_CONNECT_SHED_SECONDS / this many queued connects before it sheds.",
    multiprocess_mode="livemax",
)
REDIS_LATENCY = Histogram(
    "rtsite_redis_latency_seconds",
    "Round trip of the heartbeat's pipeline to the project's Redis.",
    buckets=LATENCY_BUCKETS,
)
DB_LATENCY = Histogram(
    "rtsite_db_latency_seconds",
    "A SELECT 1 through the database thread, its queue included.",
    buckets=LATENCY_BUCKETS,
)
HANDED_BACK = Counter(
    "rtsite_sockets_handed_back",
    "Sockets closed (1012, reason rebalance) by a process holding more than its share.",
)
READY = Gauge(
    "rtsite_ready",
    "1 while a component answers this worker's readiness probe (database, redis, each "
    "layer shard, hub), and draining: 1 while it drains.",
    ["component"],
    multiprocess_mode="liveall",
)
SERVER_PATCHES = Gauge(
    "rtsite_server_patches_installed",
    "1 if this worker runs with the server patches, 0 if it refused them (Twisted, autobahn "
    "or daphne differ from the tested releases; the reason is in its log).",
    multiprocess_mode="liveall",
)
# prometheus-client's process metrics are not collected in multiprocess mode (make serve):
# each worker copies its own here at every heartbeat (``sample_process``).
WORKER_CPU = Gauge(
    "rtsite_worker_cpu_seconds", "CPU time of this worker.", multiprocess_mode="liveall"
)
WORKER_MEMORY = Gauge(
    "rtsite_worker_resident_memory_bytes",
    "Resident memory of this worker.",
    multiprocess_mode="liveall",
)
WORKER_OPEN_FDS = Gauge(
    "rtsite_worker_open_fds", "Open file descriptors of this worker.", multiprocess_mode="liveall"
)
DRAINING = Gauge(
    "rtsite_draining",
    "1 while a process drains its sockets before exiting.",
    multiprocess_mode="livemax",
)
DEAD_PROCESSES = Counter(
    "rtsite_dead_processes_cleaned", "Dead processes whose groups and sockets were cleaned up."
)
ARENA_TICK_LAG = Histogram(
    "rtsite_arena_tick_lag_seconds",
    "How late a pass of the arena ticker started after its due time.",
    buckets=LAG_BUCKETS,
)


_process = ProcessCollector(registry=None)


def sample_process() -> None:
    """Copy this worker's CPU, memory and open files (read from /proc by
    prometheus-client) into the worker gauges; only needed in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    values = {
        sample.name: sample.value for family in _process.collect() for sample in family.samples
    }
    for name, gauge in (
        ("process_cpu_seconds_total", WORKER_CPU),
        ("process_resident_memory_bytes", WORKER_MEMORY),
        ("process_open_fds", WORKER_OPEN_FDS),
    ):
        if name in values:
            gauge.set(values[name])


def forget_dead_workers() -> int:
    """Drop the live gauges of workers that are gone (a restart, a crash), as
    prometheus-client asks of multiprocess mode; their counters stay in the sums."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return 0
    pids = set()
    for path in Path(directory).glob("*.db"):
        tail = path.stem.rpartition("_")[2]
        if tail.isdigit():
            pids.add(int(tail))
    forgotten = 0
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
            forgotten += 1
        except PermissionError:
            pass  # alive, someone else's
    return forgotten


def render() -> tuple[bytes, str]:
    """The exposition text of every process (multiprocess mode) or of this one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST


def app_of(consumer: object) -> str:
    """The app label of a consumer: its package (chat, notifications, game, rtsite)."""
    return type(consumer).__module__.split(".", 1)[0]
