"""Even shares of sockets among the workers that share a listening socket.

Under ``make serve`` the kernel hands each new connection to whichever worker accepts
first, and nothing moves a socket afterwards: after a rolling restart (each worker drains
in turn and its clients reconnect to the others) the worker restarted last held every
socket (200/0, seen from outside), and kept them.

So every RT_REBALANCE_SECONDS each worker writes its count of open sockets beside the
others' (a Redis hash per host and listening address: workers elsewhere, or on another
port, are not in it) and reads theirs. A worker holding more than RT_REBALANCE_RATIO
times the mean of the live ones, and at least RT_REBALANCE_MIN_EXCESS sockets over it,
hands the excess back: it stops accepting for a moment (the shared socket's queue goes to
the others), and closes that many of its sockets, chosen at random and spread over
RT_REBALANCE_SPREAD_SECONDS, each as a drain does (``closing`` with reason
``rebalance``, its frames answered, then 1012). Their clients reconnect and resume by
cursor, on the other workers. Nothing moves while any of them drains (a restart under
way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import socket
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from common.loops import PerLoop
from common.reactor import installed_reactor
from common.redis import get_async_redis
from common.tasks import spawn
from realtime import metrics, registry
from realtime.server import drain

logger = logging.getLogger(__name__)


def to_hand_back(mine: int, others: Sequence[int], *, ratio: float, least: int) -> int:
    """How many of its ``mine`` sockets a worker hands back, given the counts of the other
    live workers on its listening socket: enough to come down to the mean, if it holds
    more than ``ratio`` times the mean and ``least`` or more over it."""
    if not others:
        return 0
    mean = (mine + sum(others)) / (len(others) + 1)
    over = mine - mean
    if mine <= ratio * mean or over < least:
        return 0
    return math.floor(over)


def _shares_key(ports: list[Any]) -> str | None:
    addresses = sorted(str(port.getHost()) for port in ports)
    if not addresses:
        return None
    where = f"{socket.gethostname()}|{'|'.join(addresses)}"
    return f"{settings.REDIS_KEY_PREFIX}:shares:{where}"


class Rebalancer:
    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.key: str | None = None
        self.paused: list[Any] = []  # ports not accepting while sockets are handed back
        self.failing = False

    def start(self) -> None:
        if settings.RT_REBALANCE_SECONDS <= 0 or (self.task and not self.task.done()):
            return
        drain.on_drain(self._on_drain)
        self.task = spawn(self._run(), name="rtsite-rebalance")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(settings.RT_REBALANCE_SECONDS)
            try:
                await self.check()
                self.failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not self.failing:  # once per outage
                    logger.warning("could not compare socket shares", exc_info=True)
                self.failing = True

    async def check(self) -> int:
        """Write this worker's count, read the others', hand back any excess; returns
        how many sockets were handed back."""
        if drain.draining():
            return 0
        if self.key is None:
            self.key = _shares_key(drain.listening_ports())
            if self.key is None:
                return 0
        sockets = [s for s in drain.open_sockets() if not getattr(s, "draining", False)]
        ttl = max(10, int(settings.RT_REBALANCE_SECONDS * 3))
        async with get_async_redis().pipeline(transaction=False) as pipe:
            pipe.hset(self.key, registry.PROCESS_ID, len(sockets))
            pipe.expire(self.key, ttl)
            pipe.hgetall(self.key)
            *_, shares = await pipe.execute()
        others = {pid: int(count) for pid, count in shares.items() if pid != registry.PROCESS_ID}
        live = await registry.alive(others)
        gone = [pid for pid, is_live in live.items() if not is_live]
        if gone:
            await get_async_redis().hdel(self.key, *gone)
        counts = [others[pid] for pid, is_live in live.items() if is_live]
        if any(count < 0 for count in counts):
            return 0  # one of them drains: its sockets are moving already
        count = to_hand_back(
            len(sockets),
            counts,
            ratio=settings.RT_REBALANCE_RATIO,
            least=settings.RT_REBALANCE_MIN_EXCESS,
        )
        if count:
            logger.warning(
                "holding %d socket(s) against %s on the other worker(s): handing %d back",
                len(sockets),
                counts,
                count,
            )
            await self.hand_back(random.sample(sockets, count))
        return count

    async def hand_back(self, sockets: list[Any]) -> None:
        self.paused = drain.listening_ports()
        for port in self.paused:
            port.stopReading()
        try:
            window = settings.RT_REBALANCE_SPREAD_SECONDS
            started = time.monotonic()
            tasks = []
            for index, one in enumerate(sockets):
                delay = started + window * index / len(sockets) - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if drain.draining():
                    break
                task = spawn(one.drain("rebalance"), name="rtsite-rebalance-hand-back")
                tasks.append(task)
            metrics.HANDED_BACK.inc(len(tasks))
            if tasks:
                # Waited for, never cancelled: each closes its socket in the end (a
                # socket told ``closing`` and left open could not send any more).
                await asyncio.wait(tasks, timeout=settings.RT_DRAIN_GRACE_SECONDS + 1)
        finally:
            paused, self.paused = self.paused, []
            if not drain.draining():
                for port in paused:
                    port.startReading()

    async def _on_drain(self) -> None:
        # The drain stops the ports it finds accepting; those paused here it would miss.
        for port in self.paused:
            port.stopListening()
        if self.key is not None:
            with contextlib.suppress(Exception):
                # -1: draining (the others wait until it has gone).
                await get_async_redis().hset(self.key, registry.PROCESS_ID, -1)


_rebalancers = PerLoop(Rebalancer)


def start_with_server() -> bool:
    """Under daphne: compare shares once the server runs (as ``realtime.processes``)."""
    reactor = installed_reactor()
    if reactor is None:
        return False
    reactor.callWhenRunning(lambda: reactor.callLater(0, lambda: _rebalancers.get().start()))
    return True
