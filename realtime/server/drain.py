"""A graceful exit on SIGTERM: stop accepting, let in-flight work finish, close every
socket with a reason, spread over a window, then exit.

daphne (Twisted) treats SIGTERM as SIGKILL does the sockets: no close frame, and a frame
being handled when the process dies gets no answer. Here SIGTERM instead:

1. marks the process as draining (readiness answers 503, so a proxy stops sending it
   requests) and stops listening (with a socket shared by several workers, the others go
   on accepting);
2. runs the hooks of the parts that hold more than sockets (``on_drain``: the arena host
   releases the leases of the arenas it runs, so another process takes them over now,
   not when the leases lapse);
3. for each open socket, in random order spread over RT_DRAIN_SECONDS (so reconnects
   reach the other processes as a stream, not a storm): sends ``closing`` with reason
   ``restart``, lets the frames already on their way be answered (until the client has
   been quiet for RT_DRAIN_SETTLE_SECONDS, at most RT_DRAIN_GRACE_SECONDS), then closes
   with 1012 (service restart);
4. waits until the broadcasts committed meanwhile are published, takes itself out of the
   process registry (``realtime.processes``), then stops the reactor (daphne then cancels
   whatever is left, as on any exit).

A second SIGTERM during the drain exits at once. SIGINT (Ctrl+C under ``make run``) is
left to Twisted: it exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from django.conf import settings
from twisted.internet import tcp, unix

from common.loops import PerLoop
from common.reactor import installed_reactor
from common.tasks import spawn
from realtime import metrics
from realtime.broadcast import published
from realtime.processes import get_process

logger = logging.getLogger(__name__)


class Drainable(Protocol):
    async def drain(self) -> None: ...


Hook = Callable[[], Awaitable[None]]
_hooks: PerLoop[list[Hook]] = PerLoop(list)


def on_drain(hook: Hook) -> None:
    """Run ``hook`` when a drain starts, before any socket is closed (an arena host
    hands its arenas over, so the processes its players move to take them at once)."""
    _hooks.get().append(hook)


class _State:
    draining = False


state = _State()


def _sockets() -> weakref.WeakSet[Any]:
    return weakref.WeakSet()


_open_sockets = PerLoop(_sockets)


def opened(socket: Drainable) -> None:
    _open_sockets.get().add(socket)


def closed(socket: Drainable) -> None:
    _open_sockets.get().discard(socket)


def open_sockets() -> list[Drainable]:
    return list(_open_sockets.get())


def draining() -> bool:
    return state.draining


def install() -> bool:
    """Take SIGTERM once daphne's reactor runs (False if this is not a Twisted server)."""
    reactor = installed_reactor()
    if reactor is None:
        return False

    def take_sigterm() -> None:
        loop = asyncio.get_event_loop()
        loop.add_signal_handler(signal.SIGTERM, _on_sigterm)

    reactor.callWhenRunning(take_sigterm)  # after Twisted installed its own handlers
    return True


def _on_sigterm() -> None:
    if state.draining:
        logger.warning("second SIGTERM: exiting without waiting for the drain")
        reactor = installed_reactor()
        if reactor is not None:
            reactor.stop()
        return
    spawn(_drain_then_stop(), name="rtsite-drain")


async def _drain_then_stop() -> None:
    reactor = installed_reactor()
    try:
        await drain()
    except Exception:
        logger.exception("drain failed; exiting")
    finally:
        if reactor is not None and reactor.running:
            reactor.stop()


def listening_ports() -> list[Any]:
    """The Twisted ports this process accepts on (none outside daphne)."""
    reactor = installed_reactor()
    if reactor is None:
        return []
    return [r for r in reactor.getReaders() if isinstance(r, tcp.Port | unix.Port)]


def _stop_listening() -> int:
    ports = listening_ports()
    for port in ports:
        port.stopListening()
    return len(ports)


async def drain() -> None:
    state.draining = True
    metrics.DRAINING.set(1)
    ports = _stop_listening()
    for hook in _hooks.get():
        try:
            await hook()
        except Exception:
            logger.exception("a drain hook failed")
    sockets = open_sockets()
    random.shuffle(sockets)
    window = settings.RT_DRAIN_SECONDS
    logger.warning(
        "SIGTERM: draining %d socket(s) over %.1f s (stopped listening on %d port(s))",
        len(sockets),
        window,
        ports,
    )
    tasks = []
    started = time.monotonic()
    for index, socket in enumerate(sockets):
        due = started + window * index / max(1, len(sockets))
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_drain_one(socket)))
    # Sockets that were mid-handshake when listening stopped are drained as they open
    # (``JsonConsumer``); wait for them and for every socket's disconnect to finish.
    deadline = time.monotonic() + settings.RT_DRAIN_GRACE_SECONDS
    while open_sockets() and time.monotonic() < deadline:
        for socket in open_sockets():
            if not getattr(socket, "draining", False):
                tasks.append(asyncio.create_task(_drain_one(socket)))
        await asyncio.sleep(0.05)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
            await asyncio.gather(*tasks, return_exceptions=True)

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await published()

    try:  # gone cleanly: nothing for the others' janitors to undo
        await get_process().unregister()
    except Exception:
        logger.warning("could not unregister; the janitors will clean up", exc_info=True)
    left = len(open_sockets())
    logger.warning(
        "drain done in %.1f s%s",
        time.monotonic() - started,
        f"; {left} socket(s) left" if left else "",
    )


async def _drain_one(socket: Drainable) -> None:
    try:
        await socket.drain()
    except Exception:
        logger.warning("drain of a socket failed", exc_info=True)
