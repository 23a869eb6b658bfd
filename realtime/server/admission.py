"""Shedding handshakes a process cannot serve in time.

Each socket's connect work (session, account, presence, history) runs a few at a time
(RT_CONNECTS_AT_ONCE) on the process's one database thread. In a storm the queue grows;
past some length, the last ones would wait longer than any client does. So a process
estimates, at each new handshake, how long it would wait: the connects already queued
times the time between two finished connects while busy (measured, an average). Over
RT_CONNECT_SHED_SECONDS the handshake is answered at once with HTTP 503 and a
``Retry-After`` that books it a later turn (the retries come back at the rate the
process serves them), before any work is done for it. The server patches call
``retry_after`` (``realtime.server.patches``).

Browsers cannot read a refused handshake's status or headers (the WebSocket API hides
them), so live.js backs off with jitter after a handshake fails, starting at about a
second; other clients (the bench, apps) can honour ``Retry-After`` to the second.
"""

from __future__ import annotations

import math
import secrets
import time

from django.conf import settings

from realtime import metrics
from realtime.server import drain

# A first guess for the time between finished connects, until one is measured.
_INITIAL_INTERVAL = 0.005
_WEIGHT = 0.1  # of each new measurement in the moving average
_random = secrets.SystemRandom()
# Never told to wait longer than this (clients that do not come back, browsers among
# them, leave reservations unused).
MAX_RETRY_AFTER = 300


class ConnectQueue:
    """Connects admitted and not yet done in this process (one event loop: no locks).

    A storm's handshakes are all read before the first of their consumers starts, so
    the queue counts a handshake from its admission: ``admitted`` and ``started`` count
    handshakes let in and consumers started. A handshake that never reaches a consumer
    (refused by the origin check, or its client gone) would stay counted; the two are
    made equal again after a second without admissions."""

    def __init__(self) -> None:
        self.waiting = 0  # consumers started, connect work not done
        self.admitted = 0
        self.started_total = 0
        self.last_admitted = 0.0
        self.interval = _INITIAL_INTERVAL
        self.last_done = 0.0
        # When the next refused handshake is told to come back (see ``retry_after``).
        self.reserved = 0.0

    def started(self) -> None:
        if self.waiting == 0:
            self.last_done = time.monotonic()  # a busy period starts now
        self.waiting += 1
        self.started_total += 1

    def finished(self) -> None:
        now = time.monotonic()
        if self.waiting > 0:
            gap = min(now - self.last_done, 1.0)
            self.interval += _WEIGHT * (gap - self.interval)
            self.waiting -= 1
            metrics.CONNECT_SECONDS.set(self.interval)
        self.last_done = now

    def expected_wait(self) -> float:
        not_started = max(0, self.admitted - self.started_total)
        return (self.waiting + not_started) * self.interval

    def retry_after(self) -> int | None:
        """Seconds a new handshake should come back after, or None to take it."""
        if drain.draining():
            return _random.randint(1, 3)
        now = time.monotonic()
        if now - self.last_admitted > 1.0:
            self.admitted = self.started_total
        limit = settings.RT_CONNECT_SHED_SECONDS
        wait = self.expected_wait()
        if limit > 0 and wait > limit:
            metrics.SHED.inc()
            # Each refused handshake gets a time of its own: the first when the queue
            # will be down to half the limit, the next one connect later, and so on. They
            # come back at the rate the process serves them, into a queue with room for
            # them (random spreads came back in bunches that were refused again, and
            # late, after the process had gone idle: a 5,000-socket storm took 3 minutes).
            self.reserved = max(self.reserved, now + wait - limit / 2)
            slot = self.reserved
            self.reserved += self.interval
            return min(MAX_RETRY_AFTER, max(1, math.ceil(slot - now)))
        self.admitted += 1
        self.last_admitted = now
        return None


queue = ConnectQueue()
