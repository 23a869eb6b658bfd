"""The base JSON consumer every socket of the site is built on.

What it guarantees, so apps do not each re-learn it:
- every client frame is size-checked, rate-limited, parsed and validated against the
  app's declared frames before a handler runs; anything wrong gets an ``error`` frame
  and the socket stays open;
- no exception escapes to daphne: a failing handler is logged and answered with
  ``internal_error`` (channels' own JsonWebsocketConsumer lets a bad frame raise);
- every client frame gets one reply: its own (``pong``, ``history``, ...), ``ack``, or
  ``error``, each carrying the frame's ``ref`` (fire-and-forget frames such as ``typing``
  answer only when they carry a ref). A handler may answer later instead (``LATER``,
  then ``answer``): an arena turn is answered once a tick has applied it;
- the handshake is accepted before anything slow runs (the session, the account, Redis,
  the database), and only RT_CONNECTS_AT_ONCE sockets do that work at a time: daphne
  drops a handshake that is not accepted within its ``websocket_connect_timeout``, so in
  a connect storm slow checks before the accept (or a loop busy with every socket's
  checks at once) failed sockets en masse. A check that fails afterwards closes with its
  code;
- broadcasts reach it through the process's hub (``realtime.hub``), not through a
  channel-layer channel of its own: the consumer opts out of the layer
  (``channel_layer_alias = None``), so an idle socket costs no layer receive task and a
  broadcast skips Channels' per-message dispatch; frames arrive pre-encoded and are
  forwarded as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs

from asgiref.typing import WebSocketConnectEvent, WebSocketDisconnectEvent
from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from common import logs
from common.loops import PerLoop
from realtime import metrics, presence, protocol, selectors, services
from realtime.broadcast import published
from realtime.close_codes import (
    CLOSE_LOGGED_OUT,
    CLOSE_RESTART,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_MANY,
    CLOSE_TRY_AGAIN,
)
from realtime.direct import DirectConsumer
from realtime.errors import SERVER_FAILED, ActionError, ErrorCode, try_again_in
from realtime.hub import get_hub
from realtime.ratelimit import TokenBucket
from realtime.registry import new_socket_id
from realtime.server import admission, drain, patches

logger = logging.getLogger(__name__)

# The presence rooms counting each user's sockets (RT_MAX_SOCKETS_PER_USER) and each
# client address's visitor sockets (RT_MAX_SOCKETS_PER_ADDRESS): one per user and per
# address, so a refusal can check the few sockets it counted (``_enter_account``).
SOCKETS_ROOM = "sockets"
VISITOR_SOCKETS_ROOM = "visitor-sockets"


# Told of a presence change of a socket: who else to tell (the app's announcement).
Announce = Callable[[presence.Change], Awaitable[None]]


class _Later:
    """See ``LATER``."""


# A handler's reply meaning "answered later": the consumer calls ``answer`` with the
# frame's ref (``frame_ref``) once it knows the outcome. Until then the frame counts as
# being handled: a drain waits for it (up to its grace).
LATER = _Later()


@dataclass(frozen=True)
class _Presence:
    room: presence.RoomKey
    user_id: int
    username: str
    announce: Announce | None


def _slots() -> asyncio.Semaphore:
    return asyncio.Semaphore(settings.RT_CONNECTS_AT_ONCE)


_connect_slots = PerLoop(_slots)


class JsonConsumer(DirectConsumer):
    client_frames: ClassVar[protocol.ClientFrames] = protocol.ClientFrames([protocol.Ping])
    # What the socket may send (checked against everything the test suite receives); a
    # broadcast of one is forwarded as is if the consumer has no method for its event.
    server_frames: ClassVar[protocol.ServerFrames] = protocol.ServerFrames(
        protocol.COMMON_SERVER_FRAMES
    )
    # Group traffic comes through the hub; no per-socket layer channel (see above): a
    # DirectConsumer.

    async def websocket_connect(self, message: WebSocketConnectEvent) -> None:
        # Identifies this socket in presence and logs (there is no channel_name); it
        # ends with the process's id, so a dead process's sockets can be found.
        self.socket_id = new_socket_id()
        logs.socket_id.set(self.socket_id)  # this task's log lines carry it
        self.app = metrics.app_of(self)
        self.in_flight = 0  # client frames being handled (a drain lets them finish)
        self.frame_ref: str | None = None  # the ref of the frame being handled
        self.last_frame_at = 0.0  # monotonic, when a client frame last came or was answered
        self.opened_at = time.monotonic()
        self.frames_in = self.frames_out = 0  # for the close's log line
        self.draining = False
        self.hub_groups: list[str] = []
        # Broadcasts that arrive while connecting wait until it is done, so the socket's
        # first frames (history, presence) come first.
        self.held: list[dict[str, Any]] | None = []
        self.rate_limit = TokenBucket(
            rate=settings.RT_RATE_LIMIT_PER_SECOND, burst=settings.RT_RATE_LIMIT_BURST
        )
        self.max_frame_bytes: int = settings.RT_MAX_FRAME_BYTES
        self.presences: list[_Presence] = []
        # Anonymous until the session is read, after the accept (see the module's doc).
        # types-channels expects the lazy object of channels' AuthMiddleware; the site
        # puts the user itself in the scope (``SocketEntry`` has no such middleware).
        self.scope["user"] = AnonymousUser()  # type: ignore[typeddict-item]
        await self.accept()
        drain.opened(self)
        if settings.ACCESS_LOG:
            client = logs.client_of(self.scope)
            logs.access.info(
                'socket %s "%s" opened',
                client,
                self.scope.get("path", ""),
                extra={"client": client},
            )
        metrics.SOCKETS_OPEN.labels(self.app).inc()
        metrics.WORKER_SOCKETS.inc()
        metrics.SOCKETS_OPENED.labels(self.app).inc()
        admission.queue.started()
        try:
            # At most RT_CONNECTS_AT_ONCE connects at a time; the rest wait here, accepted,
            # leaving the loop free for the handshakes still arriving (daphne times them out).
            async with _connect_slots.get():
                try:
                    self.scope["user"] = await selectors.socket_user(
                        session=self.scope.get("session")
                    )
                except Exception as error:
                    # Redis away: retried by the client (4500) and let in as who it is
                    # once the session can be read; a line per socket, no traceback.
                    logger.warning("session of socket %s not read: %r", self.socket_id, error)
                    await self.close(code=CLOSE_SERVER_ERROR)
                    return
                entered = await self._enter_account()
                if entered:
                    await self.connect()
            if entered is None:
                # Decided two heartbeats later (a process that died this second still
                # looks alive until then), without holding a connect slot meanwhile.
                await asyncio.sleep(2.2 * settings.RT_HEARTBEAT_SECONDS)
                if await self._settle_cap():
                    async with _connect_slots.get():
                        await self.connect()
        finally:
            admission.queue.finished()
            await self.release()
        # Nothing after the connect needs the session, and its store would hold the
        # session's data for the socket's life.
        self.scope.pop("session", None)
        if drain.draining() and not self.draining:
            # Accepted as listening stopped: told to go like the others.
            await self.drain()

    async def _enter_account(self) -> bool | None:
        """Count the socket against its user's cap (a visitor's: its address's cap) and
        join the groups that close it at logout, password change or deactivation. True:
        in; False: refused (and closed); None: over the cap, counting sockets of another
        process that may have died a moment ago (``_settle_cap`` decides)."""
        user: Any = self.scope["user"]
        if user.is_authenticated:
            room, key, name = f"{SOCKETS_ROOM}.{user.pk}", user.pk, ""
            cap = settings.RT_MAX_SOCKETS_PER_USER
        else:
            address = (self.scope.get("client") or [None])[0]
            if not address:  # an in-process client (tests): nothing to count by
                return True
            room, key, name = f"{VISITOR_SOCKETS_ROOM}.{address}", 0, address
            cap = settings.RT_MAX_SOCKETS_PER_ADDRESS
        change = await self.presence_enter(room, user_id=key, username=name)
        self.cap_room = (room, key, name, cap)
        if change.sockets > cap:
            # Some of the sockets counted may be of a process that died (its tabs are
            # reconnecting here): a dead process's do not count.
            recount = await presence.purge_dead(room_id=room)
            if await self._counted() > cap:
                if recount.elsewhere and not recount.suspect:
                    await self._count_out()  # not counted while it waits
                    return None
                await self._refuse(suspect=recount.suspect)
                return False
        await self._join_account_groups()
        return True

    async def _settle_cap(self) -> bool:
        """Over the cap a moment ago: counted again, now that a process that died would
        have missed two heartbeats. Still over: refused for good if every other process
        is alive, told to try again (1013) if one is silent but not yet known dead."""
        room, key, name, cap = self.cap_room
        await presence.purge_dead(room_id=room)
        change = await self.presence_enter(room, user_id=key, username=name)
        if change.sockets > cap:
            recount = await presence.purge_dead(room_id=room)
            if await self._counted() > cap:
                await self._refuse(suspect=recount.suspect)
                return False
        await self._join_account_groups()
        return True

    async def _counted(self) -> int:
        """The user's sockets counted now (after a purge, by us or a janitor)."""
        room, key, name, _cap = self.cap_room
        return await presence.sockets(room_id=room, user_id=key, username=name)

    async def _count_out(self) -> None:
        """Out of the user's count now, not when the close completes: the user's other
        sockets, retrying meanwhile, must not be refused for this one."""
        room, key, name, _cap = self.cap_room
        self.presences.pop()
        await presence.leave(room_id=room, user_id=key, username=name, socket_id=self.socket_id)

    async def _refuse(self, *, suspect: bool) -> None:
        await self._count_out()
        await self.close(code=self.try_again_code() if suspect else CLOSE_TOO_MANY)

    async def _join_account_groups(self) -> None:
        user: Any = self.scope["user"]
        if user.is_authenticated:
            await self.join_group(services.user_group(user.pk))
            session_id = services.session_id(self.scope.get("session"))
            if session_id:
                await self.join_group(services.session_group(session_id))

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels' own dispatch first hops to a thread to close stale database
        # connections, for every message; every database call here already goes through
        # database_sync_to_async, which does that itself, so the hop is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Disconnected:
            pass  # closed under us: the answer is lost, the disconnect handler cleans up
        except Exception:
            logger.exception("consumer %s failed on %s", type(self).__name__, message.get("type"))
            if message.get("type") == "websocket.connect":
                await self.close(code=CLOSE_SERVER_ERROR)
            else:
                await self.send_error(ErrorCode.INTERNAL, SERVER_FAILED)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.last_frame_at = time.monotonic()
        if text_data is None:
            await self.send_error(ErrorCode.BAD_FRAME, "Binary frames are not accepted.")
            return
        # Cheap bound first: n characters encode to at most 4n bytes. Such a frame is not
        # read, so its ref is not known (daphne closes it with 1009 first in any case).
        if len(text_data) * 4 > self.max_frame_bytes and (
            len(text_data.encode("utf-8", "surrogatepass")) > self.max_frame_bytes
        ):
            await self.send_error(
                ErrorCode.TOO_LARGE,
                f"That is too large to send: the limit is {self.max_frame_bytes:,} bytes.",
            )
            return
        metrics.FRAMES_IN.labels(self.app).inc()
        self.frames_in += 1
        if not self.rate_limit.take():
            await self.send_error(
                ErrorCode.RATE_LIMITED,
                f"You're doing that too fast. {try_again_in(self.rate_limit.wait())}",
                ref=protocol.frame_ref(text_data),
            )
            return
        self.in_flight += 1
        try:
            await self._handle(text_data)
        finally:
            self.in_flight -= 1
            self.last_frame_at = time.monotonic()  # the next queued frame comes right after

    async def _handle(self, text_data: str) -> None:
        ref: str | None = None
        started = time.monotonic()
        try:
            spec, fields, ref = protocol.parse_frame(text_data, self.client_frames)
            self.frame_ref = ref
            reply = await getattr(self, spec.handler_name)(**fields)
        except ActionError as error:
            await self.send_error(error.code, error.message, ref=error.ref or ref)
            return
        except Exception:
            logger.exception("consumer %s failed on a frame", type(self).__name__)
            await self.send_error(ErrorCode.INTERNAL, SERVER_FAILED, ref=ref)
            return
        if reply is LATER:
            self.in_flight += 1  # until ``answer``
            return
        if reply is None:
            if not spec.ack and ref is None:
                return
            reply = protocol.Ack()
        if ref is not None:
            reply.ref = ref
        # What the action committed is broadcast before it is acknowledged.
        await published()
        await self.send_frame(reply)
        metrics.FRAME_SECONDS.labels(self.app, spec.type).observe(time.monotonic() - started)

    async def answer(self, ref: str | None, refusal: ActionError | None = None) -> None:
        """The reply to a frame whose handler said ``LATER``: ``ack``, or ``error`` for
        ``refusal``. (The caller knows that what it acknowledges is stored and on its
        way: this does not wait for the process's broadcasts, as ``_handle`` does.)"""
        self.in_flight -= 1
        self.last_frame_at = time.monotonic()
        if refusal is not None:
            await self.send_error(refusal.code, refusal.message, ref=ref)
            return
        await self.send_frame(protocol.Ack() if ref is None else protocol.Ack(ref=ref))

    @staticmethod
    def try_again_code() -> int:
        """1013 (try again later); unpatched, autobahn refuses it: 4500, retried too."""
        return CLOSE_TRY_AGAIN if patches.closes_with_restart_codes() else CLOSE_SERVER_ERROR

    async def drain(self, reason: str = "restart") -> None:
        """This process is exiting (``realtime.server.drain``), or hands the socket to a process
        with fewer (``realtime.server.rebalance``, reason ``rebalance``): say so, answer the frames
        already on their way, then close with 1012 so the client reconnects (elsewhere)."""
        if self.draining:
            return
        self.draining = True
        try:
            await self.send_frame(protocol.Closing(reason=reason))
        except Disconnected:
            return
        # The client sends nothing after closing: the socket must close whatever happens
        # to this wait, or the page would stay open and unable to send.
        try:
            self.last_frame_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.RT_DRAIN_GRACE_SECONDS):
                    await self._settled(settings.RT_DRAIN_SETTLE_SECONDS)
                    await published()
        finally:
            # Unpatched, autobahn refuses 1012 from an application; 1000 is retried too.
            with contextlib.suppress(Disconnected):
                await self.close(
                    code=CLOSE_RESTART if patches.closes_with_restart_codes() else 1000
                )

    async def _settled(self, quiet: float) -> None:
        """Until no frame is being handled and none has come for ``quiet`` seconds. The
        client stops sending when the ``closing`` frame reaches it, which can take a
        while on a loaded machine; a fixed wait closed sockets with frames still on their
        way (sends left without an answer in a rolling restart at chaos size)."""
        # Polled: an event per socket to wait on would cost every idle socket a deque
        # (about 0.8 KB) for what only a drain asks.
        while True:
            waited = time.monotonic() - self.last_frame_at
            if waited >= quiet and not self.in_flight:
                return
            await asyncio.sleep(max(0.05, quiet - waited))

    def query_param(self, name: str) -> str | None:
        """A parameter of the socket's URL (``?after_id=``, ``?code=``), if given."""
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        values = query.get(name)
        return values[0] if values else None

    def query_cursor(self) -> int | None:
        """The ``?after_id=`` a reconnecting client resumes from (None if absent or bad)."""
        return protocol.ascii_id(self.query_param("after_id"))

    @property
    def user(self) -> Any:
        return self.scope["user"]

    def require_user(self, why: str) -> Any:
        """The logged-in user, or an ``auth_required`` refusal saying ``why``."""
        if not self.user.is_authenticated:
            raise ActionError(ErrorCode.AUTH_REQUIRED, why)
        return self.user

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.closed_by_server = True  # for the close's log line
        await super().close(code, reason)

    async def send_frame(self, frame: protocol.ServerFrame) -> None:
        metrics.FRAMES_OUT.labels(self.app).inc()
        self.frames_out += 1
        await self.send(text_data=protocol.encode(frame))

    async def send_error(self, code: ErrorCode, message: str, *, ref: str | None = None) -> None:
        metrics.REFUSED.labels(self.app, code.value).inc()
        await self.send_frame(protocol.error_frame(code, message, ref))

    async def websocket_disconnect(self, message: WebSocketDisconnectEvent) -> None:
        connected = hasattr(self, "app")  # not refused by a middleware
        if connected:
            metrics.SOCKETS_OPEN.labels(self.app).dec()
            metrics.WORKER_SOCKETS.dec()
            metrics.CLOSES.labels(self.app, str(message.get("code", ""))).inc()
            if settings.ACCESS_LOG:
                self._log_close(message.get("code", ""))
        try:
            for group in self.hub_groups:
                await get_hub().leave(group, self)
            self.hub_groups = []
            entered, self.presences = self.presences, []
            for entry in reversed(entered):
                try:
                    change = await presence.leave(
                        room_id=entry.room,
                        user_id=entry.user_id,
                        username=entry.username,
                        socket_id=self.socket_id,
                    )
                    if entry.announce is not None:
                        await entry.announce(change)
                except Exception:  # Redis away: the entry expires with the presence TTL
                    logger.warning(
                        "could not count out %s of %s", self.socket_id, entry.room, exc_info=True
                    )
        finally:
            if connected:  # only now: a drain waits until the socket is counted out
                drain.closed(self)
        await super().websocket_disconnect(message)  # the app's disconnect(); stops

    def _log_close(self, code: int | str) -> None:
        user = self.scope.get("user")
        fields = {
            "client": logs.client_of(self.scope),
            "code": code,
            "closed_by": "server" if getattr(self, "closed_by_server", False) else "client",
            "user_id": user.pk if user is not None and user.is_authenticated else None,
            "seconds": round(time.monotonic() - self.opened_at, 1),
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
        }
        logs.access.info(
            'socket %s "%s" closed %s by %s: user %s, %.1f s, %d frames in, %d out',
            fields["client"],
            self.scope.get("path", ""),
            code,
            fields["closed_by"],
            fields["user_id"] or "-",
            fields["seconds"],
            self.frames_in,
            self.frames_out,
            extra=fields,
        )

    async def presence_enter(
        self,
        room: presence.RoomKey,
        *,
        user_id: int,
        username: str,
        listed: int = 0,
        announce: Announce | None = None,
    ) -> presence.Change:
        """Count this socket into a presence room (naming up to ``listed`` of those in
        it); it is counted out when the socket closes. ``announce`` is told of the change
        both times (first socket of a user in, last one out, the new count)."""
        change = await presence.enter(
            room_id=room,
            user_id=user_id,
            username=username,
            socket_id=self.socket_id,
            listed=listed,
        )
        self.presences.append(_Presence(room, user_id, username, announce))
        if announce is not None:
            await announce(change)
        return change

    async def join_group(self, group: str) -> None:
        await get_hub().join(group, self)
        self.hub_groups.append(group)

    async def leave_group(self, group: str) -> None:
        if group in self.hub_groups:
            self.hub_groups.remove(group)
            await get_hub().leave(group, self)

    def hold(self) -> bool:
        """Keep broadcasts back until ``release``: the hub is about to resync this socket,
        and what reaches it meanwhile must follow the sync, not come before it (a
        deletion sent before a sync read earlier would be undone by it). False if they
        are held already (the socket is connecting)."""
        if self.held is not None:
            return False
        self.held = []
        return True

    async def release(self) -> None:
        """The broadcasts held back, in the order they came; then they flow again."""
        held, self.held = self.held, None
        for event in held or ():
            await self.hub_deliver(event)

    async def hub_deliver(self, event: dict[str, Any]) -> None:
        """A broadcast for a group of this socket: ``chat.message`` -> ``chat_message``.
        Held back while connecting, or resyncing (except the resync that holds them,
        marked ``releases``)."""
        if self.held is not None and not event.get("releases"):
            self.held.append(event)
            return
        self.frames_out += 1
        handler = getattr(self, event["type"].replace(".", "_"), None)
        if handler is None and event["type"] in self.server_frames.events:
            handler = self.forward_declared
        if handler is None:
            logger.error("%s has no handler for %s", type(self).__name__, event["type"])
            return
        try:
            await handler(event)
        except Disconnected:
            pass  # the socket closed under us; the disconnect handler cleans up
        except Exception:
            logger.exception("consumer %s failed on %s", type(self).__name__, event["type"])
            await self.send_error(ErrorCode.INTERNAL, SERVER_FAILED)

    async def rt_close(self, event: dict[str, Any]) -> None:
        """The user logged out (this session), changed their password (another session:
        ``keep`` names the session group that stays) or was deactivated: the socket ends."""
        if event.get("keep") in self.hub_groups:
            return
        await self.send(text_data=event["frame"])
        await self.close(code=CLOSE_LOGGED_OUT)

    async def rt_resync(self, event: dict[str, Any]) -> None:
        """The hub lost the layer for a while: broadcasts may have been missed. If the
        catch-up itself fails, the socket is closed (retryable) so the client reconnects
        and resumes by cursor: it must not stay open and silently behind. ``since``: when
        the resync was asked for (the hub stamps it once for all its sockets)."""
        try:
            await self.hub_resync(event.get("since", time.monotonic()))
        except Disconnected:
            return  # closed meanwhile: it resumes when it reconnects
        except Exception:
            logger.warning(
                "resync of %s failed; closing it to resume", self.socket_id, exc_info=True
            )
            await self.close(code=CLOSE_SERVER_ERROR)
        finally:
            if event.get("releases"):
                await self.release()

    def note_gap(self) -> None:
        """The hub may have lost broadcasts for this socket from now on (a resync
        follows). Consumers with a cursor remember where the gap starts."""

    async def hub_resync(self, since: float) -> None:
        """Consumers with a cursor send what was stored since it (with a read started
        after ``since``, if shared)."""

    async def forward_frame(self, event: dict[str, Any]) -> None:
        """Broadcast handler: relay a frame encoded once by ``realtime.broadcast``."""
        await self.send(text_data=event["frame"])

    async def forward_declared(self, event: dict[str, Any]) -> None:
        """A broadcast of a declared frame, for which the consumer has no method."""
        await self.forward_frame(event)

    async def on_ping(self) -> protocol.Pong:
        return protocol.Pong()


class NotFoundConsumer(DirectConsumer):
    """Refuses handshakes for unknown /ws/ paths (instead of a server-side traceback);
    saying no needs no channel-layer channel."""

    async def connect(self) -> None:
        await self.close()
