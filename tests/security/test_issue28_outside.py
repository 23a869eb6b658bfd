"""Issue 28 from outside: private rooms, direct conversations, blocking, files, replies
and unsubscribe links, attacked as a stranger, an ex-member (removed, or gone), staff or
a visitor would, against real daphne processes (two, sharing the test run's Redis and
database) with real WebSocket clients and HTTP; Django's test client where plain HTTP
in-process is enough, and in-process sockets where a race must be made to happen.

Each test asserts the safe behaviour, so it stays as a regression check. The holes it
found, fixed with it:
- frames sent right after the handshake were handled after a refused connect, with the
  private room set: a stranger or ex-member posted, reacted and kept a read cursor in a
  private room (chat/consumers.py); and the first answer to such a frame, sent after
  the close, made daphne end the application before its clean-up (realtime/consumers.py);
- a member removed between the connect's check and the socket joining the room's
  groups, or while a Redis outage lost the removal's broadcast, stayed in; frames still
  coming after a removal were handled; a room list kept a lost removal's activity;
- a visitor on a site closed to visitors told a private room from a missing one by the
  close code (4403 against 4404);
- a room of the same title as a private one was numbered after it ("-2");
- someone blocked could still edit, react and be seen typing in a shared direct
  conversation, rewrite the blocker's notification of an old mention by editing it,
  and invite the blocker into a private room.
"""

from __future__ import annotations

import asyncio
import base64
import email.message
import io
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image
from websockets.exceptions import ConnectionClosed

from chat import selectors, services
from chat.models import Attachment, Block, Membership, Message, Reaction, ReadState, Role, Room
from notifications import tokens
from notifications.digests import digests_send
from notifications.models import EMAILED_KINDS, EmailPreference, Notification, Recipient
from tests.chat.files_helpers import HTML_PAYLOAD, SVG_WITH_SCRIPT, png, png_header_only
from tests.conftest import Daphne, open_socket, start_daphne
from tests.conftest import ws_connect as connect
from tests.conftest import ws_next as next_frame

pytestmark = pytest.mark.django_db(transaction=True)

WORD = "zanzibar"  # the private room's secret word, searched for
OUTSIDERS = ["eve", "rex", "lou", "sam", None]  # a stranger, removed, left, staff, a visitor
LOGGED_IN_OUTSIDERS = ["eve", "rex", "lou", "sam"]
UPLOAD_LIMIT = 200_000  # on the closed site
PIXEL_LIMIT = 100_000


@pytest.fixture(scope="module")
def closed_site(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daphne]:
    """A second daphne on the same database and Redis, on a site whose visitors may not
    read (CHAT_ANONYMOUS_READ=false), with small upload limits: for leaks that only such a
    site has, for what must reach another process, and for hostile uploads."""
    server = start_daphne(
        tmp_path_factory.mktemp("closed-site"),
        env={
            "CHAT_ANONYMOUS_READ": "false",
            # Small limits, for hostile uploads that cost little to send.
            "CHAT_UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT),
            "CHAT_UPLOAD_MAX_PIXELS": str(PIXEL_LIMIT),
        },
    )
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    # Eight accounts a test: nobody logs in with a password here (sessions are forced).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


async def raw_burst(server: Daphne, path: str, cookie: str, frames: list[dict[str, Any]]) -> int:
    """Open a socket and, as soon as the handshake is answered (the server accepts at
    once and checks after), send ``frames`` in one write: they are there before the
    server has decided. The close code it answers."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {server.url}\r\nCookie: {cookie}\r\n\r\n"
    ).encode()
    data = b""
    for frame in frames:
        payload = json.dumps(frame).encode()
        assert len(payload) < 126
        mask = os.urandom(4)
        data += bytes([0x81, 0x80 | len(payload)]) + mask
        data += bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101"), head
            writer.write(data)
            while True:  # server frames (unmasked): a close's payload starts with its code
                opcode, size = await reader.readexactly(2)
                length = size & 0x7F
                if length >= 126:
                    length = int.from_bytes(await reader.readexactly(2 if length == 126 else 8))
                payload = await reader.readexactly(length)
                if opcode & 0x0F == 0x8:
                    return int.from_bytes(payload[:2])
    finally:
        writer.close()


@dataclass
class World:
    users: dict[str, Any]
    cookies: dict[str, str]
    secret: Room  # private
    hall: Room  # public
    post: Message  # in secret, by its owner, with an image, mentioning everyone
    attachment: Attachment  # the image
    pending: Attachment  # alice's upload in secret, not sent yet
    direct: Room  # mod and mia's direct conversation, with the word in it

    def client(self, name: str | None) -> Client:
        client = Client()
        if name is not None:
            client.force_login(self.users[name])
        return client

    def cookie(self, name: str | None) -> str | None:
        return None if name is None else self.cookies[name]


def image_upload(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(), content_type="image/png")


@pytest.fixture
def world(
    make_user: Callable[..., Any], make_room: Callable[..., Room], login_cookie: Callable[..., str]
) -> World:
    names = ("owner", "mod", "mia", "alice", "eve", "rex", "lou", "zed")
    users = {name: make_user(name, email=f"{name}@example.org") for name in names}
    # Staff manage private rooms in the admin, never on the site.
    users["sam"] = make_user("sam", email="sam@example.org", is_staff=True, is_superuser=True)
    secret = make_room(private=True, title="Zanzibar plans")
    roles = {"owner": Role.OWNER, "mod": Role.MODERATOR, "mia": Role.MODERATOR}
    for name in ("owner", "mod", "mia", "alice", "rex", "lou"):
        services.member_add(room=secret, user=users[name], role=roles.get(name, Role.MEMBER))
    attachment = services.attachment_upload(
        room=secret, user=users["owner"], upload=image_upload(), name="photo.png"
    )
    post = services.message_post(
        room=secret,
        author=users["owner"],
        body=f"{WORD} @alice @rex @lou @eve @sam",
        attachments=[attachment.pk],
    )
    pending = services.attachment_upload(
        room=secret, user=users["alice"], upload=image_upload(), name="mine.png"
    )
    services.member_kick(room=secret, by=users["owner"], username="rex")
    services.room_leave(room=secret, user=users["lou"])
    hall = make_room(title="Hall")
    direct = services.direct_open(user=users["mod"], usernames=["mia"])
    services.message_post(room=direct, author=users["mod"], body=f"{WORD} between us")
    attachment.refresh_from_db()
    return World(
        users=users,
        cookies={name: login_cookie(user) for name, user in users.items()},
        secret=secret,
        hall=hall,
        post=post,
        attachment=attachment,
        pending=pending,
        direct=direct,
    )


def room_path(room: Room | str, after_id: int | None = None) -> str:
    slug = room if isinstance(room, str) else room.slug
    return f"/ws/chat/{slug}/" + (f"?after_id={after_id}" if after_id is not None else "")


async def outcome(ws: Any, timeout: float = 10.0) -> int | str:
    """How a socket's connect ends: its close code, or "sync" when it was let in."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "sync":
                    await ws.close()
                    return "sync"
    except ConnectionClosed:
        assert ws.close_code is not None
        return ws.close_code


async def connect_outcome(server: Daphne, path: str, cookie: str | None) -> int | str:
    return await outcome(await connect(server, path, cookie))


async def reply_to(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """Send ``frame`` with a ref; the frame that answers it (an ack, an error or a reply)."""
    ref = f"r{time.monotonic_ns()}"
    await ws.send(json.dumps({**frame, "ref": ref}))
    async with asyncio.timeout(10):
        while True:
            answer = json.loads(await ws.recv())
            if answer.get("ref") == ref:
                return answer


def db(function: Callable[..., Any]) -> Callable[..., Any]:
    return database_sync_to_async(function)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (at most 10 s) for a condition on the database: a barrier, not a timing."""
    deadline = time.monotonic() + 10
    while not await db(condition)():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


def written_by(world: World, name: str) -> dict[str, int]:
    """What ``name`` managed to write in the private room."""
    user = world.users[name]
    return {
        "messages": Message.objects.filter(room=world.secret, author=user).count(),
        "reactions": Reaction.objects.filter(message__room=world.secret, user=user).count(),
        "cursor": ReadState.objects.filter(room=world.secret, user=user).count(),
        "members": Membership.objects.filter(room=world.secret, user=world.users["zed"]).count(),
    }


NOTHING = {"messages": 0, "reactions": 0, "cursor": 0, "members": 0}


# ------------------------------------------------ 1. reading a private room, over HTTP


@pytest.mark.parametrize("viewer", OUTSIDERS)
def test_the_room_page_answers_404_to_outsiders(world: World, viewer: str | None) -> None:
    assert world.client(viewer).get(f"/chat/{world.secret.slug}/").status_code == 404
    assert world.client(viewer).get(f"/chat/{world.direct.slug}/").status_code == 404
    assert world.client("alice").get(f"/chat/{world.secret.slug}/").status_code == 200
    assert world.client("mia").get(f"/chat/{world.direct.slug}/").status_code == 200


@pytest.mark.parametrize("viewer", OUTSIDERS)
def test_the_room_list_page_does_not_name_it(world: World, viewer: str | None) -> None:
    page = world.client(viewer).get("/chat/").content.decode()
    assert world.secret.slug not in page
    assert "Zanzibar" not in page
    assert world.direct.slug not in page
    assert world.secret.slug in world.client("alice").get("/chat/").content.decode()
    assert world.direct.slug in world.client("mia").get("/chat/").content.decode()


@pytest.mark.parametrize("viewer", OUTSIDERS)
def test_search_finds_nothing_of_it(world: World, viewer: str | None) -> None:
    client = world.client(viewer)
    for room in (world.secret, world.direct):
        assert client.get("/chat/search/", {"q": WORD, "room": room.slug}).status_code == 404
    everywhere = client.get("/chat/search/", {"q": WORD}).content.decode()
    assert f"#m{world.post.pk}" not in everywhere
    assert world.secret.slug not in everywhere
    assert world.direct.slug not in everywhere
    assert "between us" not in everywhere
    assert (
        f"#m{world.post.pk}"
        in world.client("alice").get("/chat/search/", {"q": WORD}).content.decode()
    )
    assert "between us" in world.client("mia").get("/chat/search/", {"q": WORD}).content.decode()


@pytest.mark.parametrize("viewer", OUTSIDERS)
@pytest.mark.parametrize("which", ["file", "thumbnail"])
def test_its_files_answer_404_to_outsiders(world: World, viewer: str | None, which: str) -> None:
    url = (
        f"/chat/files/{world.attachment.pk}/photo.png"
        if which == "file"
        else f"/chat/files/{world.attachment.pk}/thumbnail/"
    )
    assert world.client(viewer).get(url).status_code == 404
    assert world.client("alice").get(url).status_code == 200


@pytest.mark.parametrize("viewer", ["owner", "eve", "rex", "sam", None])
def test_someone_elses_pending_upload_answers_404(world: World, viewer: str | None) -> None:
    for url in (f"/chat/files/{world.pending.pk}/x", f"/chat/files/{world.pending.pk}/thumbnail/"):
        assert world.client(viewer).get(url).status_code == 404
        assert world.client("alice").get(url).status_code == 200
    # Ids next to the real ones, guessed: nothing either.
    for guess in (world.pending.pk + 1, world.pending.pk + 50, 0):
        assert world.client(viewer).get(f"/chat/files/{guess}/x").status_code == 404


@pytest.mark.parametrize("viewer", LOGGED_IN_OUTSIDERS)
def test_outsiders_cannot_upload_to_it_nor_mute_it(world: World, viewer: str) -> None:
    client = world.client(viewer)
    upload = client.post(f"/chat/{world.secret.slug}/files/", {"file": image_upload()})
    assert upload.status_code == 404
    assert not Attachment.objects.filter(uploader=world.users[viewer]).exists()
    muted = client.post(f"/chat/{world.secret.slug}/notifications/", {"muted": "1"})
    assert muted.status_code == 404


@pytest.mark.parametrize("viewer", ["eve", "rex", "lou", "sam"])
def test_its_mentions_leave_no_notification_and_no_email(
    world: World, viewer: str, mailoutbox: list[Any]
) -> None:
    """eve and sam (staff), not members, were never notified; rex and lou were, and lost
    it on leaving."""
    user = world.users[viewer]
    assert not Recipient.objects.filter(user=user).exists()
    inbox = world.client(viewer).get("/notifications/").content.decode()
    assert WORD not in inbox
    assert "Zanzibar" not in inbox
    digests_send(now=timezone.now() + timedelta(minutes=30))
    sent = {mail.to[0]: mail for mail in mailoutbox}
    assert sorted(sent) == ["alice@example.org", "mia@example.org"]  # members' only
    assert WORD in sent["alice@example.org"].body


# ------------------------------------------------ 1. reading a private room, over sockets


@pytest.mark.parametrize("viewer", OUTSIDERS)
@pytest.mark.parametrize("resume", [False, True])
async def test_its_socket_refuses_outsiders_as_a_missing_room(
    daphne_server: Daphne, world: World, viewer: str | None, resume: bool
) -> None:
    cursor = world.post.seq if resume else None
    cookie = world.cookie(viewer)
    assert await connect_outcome(daphne_server, room_path(world.secret, cursor), cookie) == 4404
    assert await connect_outcome(daphne_server, room_path("no-such-room", cursor), cookie) == 4404


@pytest.mark.parametrize("viewer", LOGGED_IN_OUTSIDERS)
async def test_frames_sent_before_the_refusal_change_nothing(
    daphne_server: Daphne, world: World, viewer: str
) -> None:
    """Frames a client sends at once, before its socket's connect is refused, are still
    handled after the refusal: they must find no room (they did: a stranger's posts
    and reactions were stored)."""
    burst: list[dict[str, Any]] = [
        {"type": "message.send", "body": "let me in"},
        {"type": "message.send", "body": "quoting", "reply_to": world.post.pk},
        {"type": "reaction.toggle", "id": world.post.pk, "emoji": "👍"},
        {"type": "read", "id": world.post.pk},
        {"type": "typing"},
        {"type": "member.invite", "username": "zed"},
        {"type": "room.edit", "topic": "mine now", "description": ""},
        {"type": "history", "before_id": 2**40},
        {"type": "context", "id": world.post.pk},
        {"type": "members"},
        # The last one needs no room: once it is stored, every frame before it was handled.
        {"type": "user.block", "username": "zed", "blocked": True},
    ]
    path = room_path(world.secret)
    assert await raw_burst(daphne_server, path, world.cookies[viewer], burst) == 4404
    blocker = world.users[viewer]
    await until(lambda: Block.objects.filter(blocker=blocker).exists(), "the burst handled")
    assert await db(written_by)(world, viewer) == NOTHING
    assert (await db(Room.objects.get)(pk=world.secret.pk)).topic == ""


async def test_a_direct_conversation_refuses_everyone_else(
    daphne_server: Daphne, world: World
) -> None:
    users = world.users
    direct = await db(services.direct_open)(user=users["owner"], usernames=["alice"])
    for viewer in ("eve", "mod", "sam", None):
        for cursor in (None, 0):
            path = room_path(direct, cursor)
            assert await connect_outcome(daphne_server, path, world.cookie(viewer)) == 4404
    assert await connect_outcome(daphne_server, room_path(direct), world.cookies["alice"]) == "sync"


@pytest.mark.parametrize("viewer", OUTSIDERS)
async def test_the_room_list_socket_tells_outsiders_nothing_of_it(
    daphne_server: Daphne, world: World, viewer: str | None
) -> None:
    listing = await connect(daphne_server, "/ws/chat/", world.cookie(viewer))
    owner_sockets: list[Any] = []
    try:
        rooms = await next_frame(listing, "rooms")
        assert world.secret.slug not in {room["slug"] for room in rooms["rooms"]}
        seen: list[dict[str, Any]] = []
        # Its activity and online count: someone comes in and posts there...
        secret_ws = await connect(daphne_server, room_path(world.secret), world.cookies["owner"])
        owner_sockets.append(secret_ws)
        await next_frame(secret_ws, "sync")
        await reply_to(secret_ws, {"type": "message.send", "body": f"{WORD} again @{viewer}"})
        # ... then in the public room, which every list hears of after it.
        hall_ws = await connect(daphne_server, room_path(world.hall), world.cookies["owner"])
        owner_sockets.append(hall_ws)
        await next_frame(hall_ws, "sync")
        await reply_to(hall_ws, {"type": "message.send", "body": "hello hall"})
        barrier = "room.activity" if viewer is not None else "room.online"
        async with asyncio.timeout(10):
            while True:
                frame = json.loads(await listing.recv())
                seen.append(frame)
                if frame["type"] == barrier and frame["slug"] == world.hall.slug:
                    break
        assert world.secret.slug not in json.dumps(seen)
        assert world.direct.slug not in json.dumps([rooms, *seen])
    finally:
        for ws in (listing, *owner_sockets):
            await ws.close()


@pytest.mark.parametrize("viewer", LOGGED_IN_OUTSIDERS)
@pytest.mark.parametrize("action", ["room.join", "room.leave"])
async def test_joining_or_leaving_it_answers_as_for_a_missing_room(
    daphne_server: Daphne, world: World, viewer: str, action: str
) -> None:
    ws = await connect(daphne_server, "/ws/chat/", world.cookies[viewer])
    try:
        await next_frame(ws, "rooms")
        secret = await reply_to(ws, {"type": action, "slug": world.secret.slug})
        missing = await reply_to(ws, {"type": action, "slug": "no-such-room"})
        assert secret["type"] == "error"
        assert {k: v for k, v in secret.items() if k != "ref"} == {
            k: v for k, v in missing.items() if k != "ref"
        }
    finally:
        await ws.close()
    assert not await db(
        ReadState.objects.filter(user=world.users[viewer], room=world.secret).exists
    )()


# What a stranger tries from a public room's socket against the private room's message
# and alice's pending upload: (frame, the error code expected).
FROM_A_PUBLIC_ROOM = {
    "reply": ({"type": "message.send", "body": "re", "reply_to": "POST"}, "not_found"),
    "attach": ({"type": "message.send", "body": "", "attachments": ["PENDING"]}, "not_found"),
    "attach-sent": ({"type": "message.send", "body": "", "attachments": ["SENT"]}, "not_found"),
    "edit": ({"type": "message.edit", "id": "POST", "body": "mine"}, "not_found"),
    "delete": ({"type": "message.delete", "id": "POST"}, "not_found"),
    "react": ({"type": "reaction.toggle", "id": "POST", "emoji": "👍"}, "not_found"),
}


@pytest.mark.parametrize("attempt", sorted(FROM_A_PUBLIC_ROOM))
async def test_a_public_rooms_socket_reaches_nothing_private(
    daphne_server: Daphne, world: World, attempt: str
) -> None:
    """eve moderates the public room (she may delete anyone's messages there)."""
    await db(services.member_add)(room=world.hall, user=world.users["eve"], role=Role.MODERATOR)
    values = {"POST": world.post.pk, "PENDING": world.pending.pk, "SENT": world.attachment.pk}
    frame, code = FROM_A_PUBLIC_ROOM[attempt]
    frame = json.loads(json.dumps(frame))
    for key, value in frame.items():
        if isinstance(value, str) and value in values:
            frame[key] = values[value]
        elif isinstance(value, list):
            frame[key] = [values[item] for item in value]
    ws = await connect(daphne_server, room_path(world.hall), world.cookies["eve"])
    try:
        await next_frame(ws, "sync")
        answer = await reply_to(ws, frame)
        assert (answer["type"], answer.get("code")) == ("error", code)
    finally:
        await ws.close()
    post = await db(Message.objects.get)(pk=world.post.pk)
    assert post.deleted_at is None
    assert post.body.startswith(WORD)
    assert post.reactions == {}
    pending = await db(Attachment.objects.get)(pk=world.pending.pk)
    assert pending.message_id is None


@pytest.mark.parametrize("read", ["context", "history", "newer"])
async def test_a_public_rooms_reads_show_nothing_private(
    daphne_server: Daphne, world: World, read: str
) -> None:
    frame = {
        "context": {"type": "context", "id": world.post.pk},
        "history": {"type": "history", "before_id": 2**40},
        "newer": {"type": "newer", "after_id": 0},
    }[read]
    ws = await connect(daphne_server, room_path(world.hall), world.cookies["eve"])
    try:
        await next_frame(ws, "sync")
        answer = await reply_to(ws, frame)
        assert answer["type"] == read
        assert answer["messages"] == []
        if read == "context":
            assert answer["found"] is False
    finally:
        await ws.close()


# ------------------------------------------------ 1. roles: nobody takes more than given

# (who, frame, the error code): each refused, and nothing changes.
ESCALATIONS = {
    "member-invites": ("alice", {"type": "member.invite", "username": "zed"}, "forbidden"),
    "member-removes": ("alice", {"type": "member.remove", "username": "mod"}, "forbidden"),
    "member-promotes-self": (
        "alice",
        {"type": "member.role", "username": "alice", "role": "owner"},
        "forbidden",
    ),
    "member-edits-room": (
        "alice",
        {"type": "room.edit", "topic": "mine", "description": ""},
        "forbidden",
    ),
    "member-deletes-others": ("alice", {"type": "message.delete", "id": "POST"}, "forbidden"),
    "moderator-invites-owner": (
        "mod",
        {"type": "member.invite", "username": "zed", "role": "owner"},
        "forbidden",
    ),
    "moderator-invites-moderator": (
        "mod",
        {"type": "member.invite", "username": "zed", "role": "moderator"},
        "forbidden",
    ),
    "moderator-reinvites-higher": (
        "mod",
        {"type": "member.invite", "username": "alice", "role": "member"},
        "invalid",
    ),
    "moderator-promotes-self": (
        "mod",
        {"type": "member.role", "username": "mod", "role": "owner"},
        "forbidden",
    ),
    "moderator-promotes-member": (
        "mod",
        {"type": "member.role", "username": "alice", "role": "moderator"},
        "forbidden",
    ),
    "moderator-removes-owner": ("mod", {"type": "member.remove", "username": "owner"}, "forbidden"),
    "moderator-removes-moderator": (
        "mod",
        {"type": "member.remove", "username": "mia"},
        "forbidden",
    ),
    "moderator-demotes-owner": (
        "mod",
        {"type": "member.role", "username": "owner", "role": "member"},
        "forbidden",
    ),
    "last-owner-removes-self": (
        "owner",
        {"type": "member.remove", "username": "owner"},
        "forbidden",
    ),
    "last-owner-demotes-self": (
        "owner",
        {"type": "member.role", "username": "owner", "role": "moderator"},
        "forbidden",
    ),
    "last-owner-leaves": ("owner", {"type": "room.leave", "slug": "SECRET"}, "forbidden"),
    "owner-gives-a-non-member-a-role": (
        "owner",
        {"type": "member.role", "username": "eve", "role": "owner"},
        "forbidden",
    ),
}


def roles_now(room: Room) -> dict[str, str]:
    return dict(Membership.objects.filter(room=room).values_list("user__username", "role"))


@pytest.mark.parametrize("attempt", list(ESCALATIONS))
async def test_roles_cannot_be_taken_or_stripped(
    daphne_server: Daphne, world: World, attempt: str
) -> None:
    who, template, code = ESCALATIONS[attempt]
    values: dict[str, Any] = {"POST": world.post.pk, "SECRET": world.secret.slug}
    frame = {key: values.get(str(value), value) for key, value in template.items()}
    before = await db(roles_now)(world.secret)
    ws = await connect(daphne_server, room_path(world.secret), world.cookies[who])
    try:
        await next_frame(ws, "sync")
        answer = await reply_to(ws, frame)
        assert (answer["type"], answer.get("code")) == ("error", code), answer
    finally:
        await ws.close()
    assert await db(roles_now)(world.secret) == before
    room = await db(Room.objects.get)(pk=world.secret.pk)
    assert room.topic == ""
    assert (await db(Message.objects.get)(pk=world.post.pk)).deleted_at is None


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "member.invite", "username": "eve"},
        {"type": "member.remove", "username": "alice"},
        {"type": "member.role", "username": "alice", "role": "owner"},
        {"type": "room.leave", "slug": "DIRECT"},
    ],
    ids=["invite", "remove", "role", "leave"],
)
async def test_a_direct_conversations_people_are_fixed(
    daphne_server: Daphne, world: World, frame: dict[str, Any]
) -> None:
    direct = await db(services.direct_open)(user=world.users["owner"], usernames=["alice"])
    frame = {key: direct.slug if value == "DIRECT" else value for key, value in frame.items()}
    ws = await connect(daphne_server, room_path(direct), world.cookies["owner"])
    try:
        await next_frame(ws, "sync")
        answer = await reply_to(ws, frame)
        assert (answer["type"], answer.get("code")) == ("error", "forbidden"), answer
    finally:
        await ws.close()
    assert await db(roles_now)(direct) == {"owner": "member", "alice": "member"}


# ------------------------------------------------ 2. existence: the same answer either way


def same_page(one: Any, other: Any) -> None:
    assert one.status_code == other.status_code
    assert one.content == other.content


@pytest.mark.parametrize("viewer", OUTSIDERS)
def test_http_answers_the_same_for_a_private_room_and_a_missing_one(
    world: World, viewer: str | None
) -> None:
    client = world.client(viewer)
    secret, missing = world.secret.slug, "no-such-room"
    same_page(client.get(f"/chat/{secret}/"), client.get(f"/chat/{missing}/"))
    same_page(
        client.get("/chat/search/", {"q": WORD, "room": secret}),
        client.get("/chat/search/", {"q": WORD, "room": missing}),
    )
    same_page(
        client.post(f"/chat/{secret}/files/", {"file": image_upload()}),
        client.post(f"/chat/{missing}/files/", {"file": image_upload()}),
    )
    same_page(
        client.post(f"/chat/{secret}/notifications/", {"muted": "1"}),
        client.post(f"/chat/{missing}/notifications/", {"muted": "1"}),
    )
    # A file of the room's and an id that was never used.
    same_page(
        client.get(f"/chat/files/{world.attachment.pk}/photo.png"),
        client.get(f"/chat/files/{world.attachment.pk + 1000}/photo.png"),
    )


@pytest.mark.parametrize("viewer", OUTSIDERS)
async def test_a_site_closed_to_visitors_closes_alike_too(
    closed_site: Daphne, world: World, viewer: str | None
) -> None:
    """On a site whose visitors may not read, a visitor was told 4403 (not allowed) for
    a private room and 4404 for a missing one: which slugs exist."""
    cookie = world.cookie(viewer)
    secret = await connect_outcome(closed_site, room_path(world.secret), cookie)
    assert secret == await connect_outcome(closed_site, room_path("no-such-room"), cookie) == 4404
    public = await connect_outcome(closed_site, room_path(world.hall), cookie)
    assert public == (4403 if viewer is None else "sync")


def test_a_room_of_the_same_title_does_not_tell_a_private_one_exists(world: World) -> None:
    """Making a room numbers its slug after a taken one ("book-club-2"): a private room
    made on the site must not take the plain slug of its title."""
    hidden = services.room_start(user=world.users["owner"], title="Book club", private=True)
    assert hidden.slug.startswith("book-club-")
    assert hidden.slug != "book-club"
    made = world.client("eve").post("/chat/new/", {"title": "Book club"})
    assert made["Location"] == "/chat/book-club/"
    # Nor can its address be guessed from its title.
    assert world.client("eve").get(f"/chat/{hidden.slug}/").status_code == 404


# ------------------------------------------------ 3. staying in after removal


async def frames_until_closed(ws: Any) -> tuple[list[str], int]:
    """The types of the frames a socket gets until the server closes it, and the code."""
    types = []
    try:
        async with asyncio.timeout(10):
            while True:
                types.append(json.loads(await ws.recv())["type"])
    except ConnectionClosed:
        assert ws.close_code is not None
        return types, ws.close_code


async def test_a_removed_member_is_out_of_every_tab_and_process(
    daphne_server: Daphne, closed_site: Daphne, world: World
) -> None:
    alice, path = world.cookies["alice"], room_path(world.secret)
    tabs = [
        await connect(daphne_server, path, alice),
        await connect(daphne_server, path, alice),
        await connect(closed_site, path, alice),  # another process
    ]
    lists = [await connect(server, "/ws/chat/", alice) for server in (daphne_server, closed_site)]
    owner = await connect(daphne_server, path, world.cookies["owner"])
    hall = await connect(daphne_server, room_path(world.hall), world.cookies["owner"])
    try:
        cursors = [(await next_frame(tab, "sync"))["cursor"] for tab in tabs]
        for listing in lists:
            rooms = (await next_frame(listing, "rooms"))["rooms"]
            assert world.secret.slug in {room["slug"] for room in rooms}
        await next_frame(owner, "sync")
        await next_frame(hall, "sync")
        answer = await reply_to(owner, {"type": "member.remove", "username": "alice"})
        assert answer["type"] == "ack"
        for tab in tabs:
            types, code = await frames_until_closed(tab)
            assert (types[-1:], code) == (["removed"], 4410)
        for listing in lists:
            removed = await next_frame(listing, "room.removed")
            assert removed == {"type": "room.removed", "slug": world.secret.slug, "private": True}
        # Coming back, resuming from where each tab was: as for a missing room.
        for server, cursor in zip(
            (daphne_server, daphne_server, closed_site), cursors, strict=True
        ):
            assert await connect_outcome(server, room_path(world.secret, cursor), alice) == 4404
        # What is posted there now does not reach her room lists (the public room's
        # post, after it, is the barrier).
        await reply_to(owner, {"type": "message.send", "body": f"{WORD} without alice"})
        await reply_to(hall, {"type": "message.send", "body": "hello"})
        for listing in lists:
            seen = []
            async with asyncio.timeout(10):
                while True:
                    frame = json.loads(await listing.recv())
                    seen.append(frame)
                    if frame["type"] == "room.activity" and frame["slug"] == world.hall.slug:
                        break
            assert world.secret.slug not in json.dumps(seen)
    finally:
        for ws in (*tabs, *lists, owner, hall):
            await ws.close()


async def test_leaving_in_one_tab_closes_the_others(
    daphne_server: Daphne, closed_site: Daphne, world: World
) -> None:
    mia = world.cookies["mia"]
    tab = await connect(closed_site, room_path(world.secret), mia)
    listing = await connect(daphne_server, "/ws/chat/", mia)
    try:
        await next_frame(tab, "sync")
        await next_frame(listing, "rooms")
        answer = await reply_to(listing, {"type": "room.leave", "slug": world.secret.slug})
        assert answer["type"] == "ack"
        types, code = await frames_until_closed(tab)
        assert (types[-1:], code) == (["removed"], 4410)
    finally:
        await tab.close()
        await listing.close()
    assert await connect_outcome(daphne_server, room_path(world.secret), mia) == 4404


async def test_frames_still_coming_after_a_removal_change_nothing(world: World) -> None:
    """What a removed member's page sent before it heard of the removal arrives after
    the socket closed it: it must find no room."""
    path = room_path(world.secret)
    async with open_socket(path, cookie=world.cookies["alice"]) as tab:
        await tab.next("sync")
        await db(services.member_kick)(room=world.secret, by=world.users["owner"], username="alice")
        await tab.next("removed")
        for frame in (
            {"type": "message.send", "body": "still here"},
            {"type": "reaction.toggle", "id": world.post.pk, "emoji": "👍"},
            {"type": "user.block", "username": "zed", "blocked": True},  # the barrier
        ):
            await tab.send(frame)
        blocker = world.users["alice"]
        await until(lambda: Block.objects.filter(blocker=blocker).exists(), "the frames handled")
    assert await db(written_by)(world, "alice") == {**NOTHING, "cursor": 0}


async def test_a_member_removed_while_connecting_is_not_let_in(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed after the connect's check and before the socket joined the room's groups,
    the removal's broadcast went before the socket could hear it: the first sync reads
    the role again. The check is made to pass here as it would have a moment before."""
    checks = []
    real = selectors.member_role

    def member_role(*, room: Room, user: Any) -> str | None:
        checks.append(user.pk)
        return Role.MEMBER if len(checks) == 1 else real(room=room, user=user)

    monkeypatch.setattr(selectors, "member_role", member_role)
    async with open_socket(room_path(world.secret), cookie=world.cookies["rex"]) as ws:
        with pytest.raises(AssertionError, match="socket closed with 4404"):
            await ws.next("sync")
    # The connect's check only: the first sync reads the role again with the rest of
    # the viewer, in one query (chat.selectors.viewer_state).
    assert len(checks) == 1
    assert not await db(ReadState.objects.filter(user=world.users["rex"]).exists)()


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.Event]:
    """Set it, and this process's layer receive fails once: Redis away for a moment (what
    was broadcast meanwhile is lost), then every socket here is resynced."""
    layer = get_channel_layer()
    assert layer is not None
    real_receive = layer.receive
    outage, failures = asyncio.Event(), list[str]()

    async def receive(channel: str) -> dict[str, Any]:
        if not failures:
            await outage.wait()
            failures.append(channel)
            raise ConnectionError("Redis went away")
        return await real_receive(channel)

    monkeypatch.setattr(layer, "receive", receive)
    yield outage
    assert failures


def removed_silently(world: World, name: str) -> None:
    """Removed while the layer is away: the removal's broadcasts reach nobody."""
    Membership.objects.filter(room=world.secret, user=world.users[name]).delete()


async def test_a_removal_lost_with_the_layer_closes_the_socket_at_its_resync(
    world: World, outage: asyncio.Event
) -> None:
    """The resync that makes up for lost broadcasts reads the role again."""
    async with open_socket(room_path(world.secret), cookie=world.cookies["alice"]) as tab:
        await tab.next("sync")
        await db(removed_silently)(world, "alice")
        outage.set()
        with pytest.raises(AssertionError, match="socket closed with 4404"):
            await tab.next("sync")


async def test_a_removal_lost_with_the_layer_leaves_the_room_list_at_its_resync(
    world: World, outage: asyncio.Event
) -> None:
    async with open_socket("/ws/chat/", cookie=world.cookies["alice"]) as listing:
        rooms = await listing.next("rooms")
        assert world.secret.slug in {room["slug"] for room in rooms["rooms"]}
        await db(removed_silently)(world, "alice")
        outage.set()
        rooms = await listing.next("rooms")
        assert world.secret.slug not in {room["slug"] for room in rooms["rooms"]}
        owner = world.users["owner"]
        await db(services.message_post)(room=world.secret, author=owner, body=f"{WORD} @alice")
        await db(services.message_post)(room=world.hall, author=owner, body="hello")  # barrier
        while (frame := await listing.next("room.activity"))["slug"] != world.hall.slug:
            assert frame["slug"] != world.secret.slug


# ------------------------------------------------ 4. hostile uploads, over HTTP to daphne


class Browser:
    """HTTP to a daphne as a logged-in browser would: its session cookie, the CSRF
    cookie and header of the room page."""

    def __init__(self, server: Daphne, cookie: str | None) -> None:
        self.server, self.cookie, self.csrf = server, cookie, ""

    def request(
        self, path: str, data: bytes | Iterator[bytes] | None = None, headers: Any = None
    ) -> tuple[int, Any, bytes]:
        headers = {"Origin": self.server.url, "Referer": self.server.url + "/", **(headers or {})}
        cookies = [c for c in (self.cookie, self.csrf and f"csrftoken={self.csrf}") if c]
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        url = self.server.url + path  # http://127.0.0.1:<port>
        request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
                return reply.status, reply.headers, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def open_room(self, room: Room) -> None:
        status, headers, _ = self.request(f"/chat/{room.slug}/")
        assert status == 200
        self.csrf = headers["Set-Cookie"].split("csrftoken=")[1].split(";")[0]

    def upload(
        self,
        room: Room,
        name: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        csrf: bool = True,
        chunked: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        boundary = "attackboundary" + os.urandom(8).hex()
        # The name as RFC 7578 allows for any character: percent-encoded, as filename*.
        quoted = urllib.parse.quote(name, safe="")
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f"filename=\"upload\"; filename*=UTF-8''{quoted}\r\n"
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if csrf:
            headers["X-CSRFToken"] = self.csrf
        chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
        status, headers, reply = self.request(
            f"/chat/{room.slug}/files/", chunks if chunked else body, headers
        )
        if headers.get("Content-Type") != "application/json":
            return status, {}  # Django's own refusal (CSRF, a malformed form), a page
        return status, json.loads(reply)


def stored_bytes(attachment_id: int) -> bytes:
    attachment = Attachment.objects.get(pk=attachment_id)
    with services.uploads().open(attachment.file) as file:
        return file.read()


def gif(frames: int = 1, size: int = 20) -> bytes:
    out = io.BytesIO()
    images = []
    for i in range(frames):  # each frame differs, or the encoder merges them
        image = Image.new("RGB", (size, size), "white")
        image.putpixel((i % size, i // size % size), (i % 256, 0, 0))
        images.append(image)
    images[0].save(out, format="GIF", save_all=frames > 1, append_images=images[1:])
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), "navy").save(out, format="JPEG")
    return out.getvalue()


ZIP = (
    b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"evil.html" + HTML_PAYLOAD + b"PK\x05\x06" + bytes(18)
)

# name, bytes, the browser's claimed type: refused, whatever the name or claim says.
REFUSED_TYPES = {
    "elf": ("tool.png", b"\x7fELF\x02\x01\x01" + bytes(64), "image/png"),
    "exe": ("setup.txt", b"MZ\x90\x00" + bytes(64), "text/plain"),
    "html-named-png": ("cat.png", HTML_PAYLOAD, "image/png"),
    "html-doctype-txt": ("notes.txt", b"<!DOCTYPE html><p>hi</p><script>1</script>", "text/plain"),
    "svg-script": ("drawing.png", SVG_WITH_SCRIPT, "image/png"),
    "xhtml": ("page.txt", b'<?xml version="1.0"?><html xmlns="x"><script/></html>', "text/plain"),
    "binary": ("data.pdf", bytes(range(256)) * 4, "application/pdf"),
    "png-then-html": ("x.png", b"\x89PNG\r\n\x1a\n" + HTML_PAYLOAD, "image/png"),
    "bomb": ("bomb.png", png_header_only(100_000, 100_000), "image/png"),
    "wide": ("wide.png", png(400, 400), "image/png"),  # over the closed site's pixels
    "animation-bomb": ("many.gif", gif(frames=300), "image/gif"),  # each frame counted
}


@pytest.mark.parametrize("kind", list(REFUSED_TYPES))
def test_hostile_files_are_refused(closed_site: Daphne, world: World, kind: str) -> None:
    name, data, claimed = REFUSED_TYPES[kind]
    browser = Browser(closed_site, world.cookies["alice"])
    browser.open_room(world.hall)
    status, reply = browser.upload(world.hall, name, data, claimed)
    assert status == 400, reply
    assert reply["error"].endswith(".")
    assert not Attachment.objects.filter(room=world.hall).exists()


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_an_oversized_file_is_refused(closed_site: Daphne, world: World, chunked: bool) -> None:
    browser = Browser(closed_site, world.cookies["alice"])
    browser.open_room(world.hall)
    data = b"plain text\n" * (UPLOAD_LIMIT // 11 + 100)
    status, reply = browser.upload(world.hall, "big.txt", data, "text/plain", chunked=chunked)
    if chunked:
        # No Content-Length: daphne hands Django no length, and the form is not read.
        assert (status, reply) == (400, {"error": "Choose a file to share."})
    else:
        assert (status, reply) == (413, {"error": "This file is too big. The limit is 200 KB."})
    assert not Attachment.objects.filter(room=world.hall).exists()


@pytest.mark.parametrize("who", ["visitor", "no-token", "foreign-origin"])
def test_uploads_need_a_login_and_the_sites_own_form(
    closed_site: Daphne, world: World, who: str
) -> None:
    browser = Browser(closed_site, None if who == "visitor" else world.cookies["alice"])
    if who != "visitor":
        browser.open_room(world.hall)
    if who == "foreign-origin":
        browser.server = Daphne(closed_site.port, closed_site.process, closed_site.log, {})
        status, _, _ = browser.request(
            f"/chat/{world.hall.slug}/files/",
            b"x",
            {"Origin": "http://evil.example", "X-CSRFToken": browser.csrf},
        )
    else:
        status, _ = browser.upload(world.hall, "a.png", png(), "image/png", csrf=who != "no-token")
    assert status == 403
    assert not Attachment.objects.filter(room=world.hall).exists()


# A real image with something after its end: only the pixels are kept.
POLYGLOTS = {
    "png+html": ("a.png", png() + HTML_PAYLOAD, b"<script"),
    "png+zip": ("a.png", png() + ZIP, b"PK\x03\x04"),
    "jpeg+html": ("a.jpg", jpeg() + HTML_PAYLOAD, b"<script"),
    "gif+zip": ("a.gif", gif() + ZIP, b"PK\x03\x04"),
}


@pytest.mark.parametrize("kind", list(POLYGLOTS))
def test_a_polyglot_is_served_as_pixels_only(closed_site: Daphne, world: World, kind: str) -> None:
    name, data, hidden = POLYGLOTS[kind]
    browser = Browser(closed_site, world.cookies["alice"])
    browser.open_room(world.hall)
    status, reply = browser.upload(world.hall, name, data, "text/html")
    assert status == 201, reply
    attachment = reply["attachment"]
    assert hidden not in stored_bytes(attachment["id"])
    status, headers, served = browser.request(attachment["url"])
    assert status == 200
    assert hidden not in served
    assert headers["Content-Type"] == attachment["type"]
    assert attachment["type"] in {"image/png", "image/jpeg", "image/gif"}
    Image.open(io.BytesIO(served)).verify()


# name given, the name served must be: (for filename*, unquoted).
NAMES = {
    "traversal": ("../../../etc/passwd.txt", "passwd.txt"),
    "windows-traversal": ("..\\..\\boot.ini.txt", "boot.ini.txt"),
    "right-to-left": ("report\u202etxt.exe.txt", "reporttxt.exe.txt"),
    "controls": ("a\x01b\x7fc\u200bd.txt", "abcd.txt"),
    "header-injection": (
        'x"; filename=evil.html;\r\nX-Evil: 1.txt',
        "x_; filename=evil.html;X-Evil_ 1.txt",
    ),
    "hidden": ("...txt", "txt"),
    "long": ("n" * 300 + ".txt", "n" * 196 + ".txt"),
}


@pytest.mark.parametrize("kind", list(NAMES))
def test_file_names_are_cleaned_and_never_break_the_headers(
    closed_site: Daphne, world: World, kind: str
) -> None:
    given, shown = NAMES[kind]
    browser = Browser(closed_site, world.cookies["alice"])
    browser.open_room(world.hall)
    status, reply = browser.upload(world.hall, given, b"some words\n", "text/plain")
    assert status == 201, reply
    assert reply["attachment"]["name"] == shown
    stored = Attachment.objects.get(pk=reply["attachment"]["id"]).file
    assert re.fullmatch(r"chat/[\w-]{32}", stored)  # nothing of the name
    status, headers, _ = browser.request(reply["attachment"]["url"])
    assert status == 200
    assert "X-Evil" not in headers
    disposition = headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    parsed = email.message.Message()
    parsed["Content-Disposition"] = disposition
    params = parsed.get_params(header="Content-Disposition")
    assert params is not None
    # The two names (the email module reads filename* as filename), nothing smuggled in
    # beside them: a ";" of the name is inside the quotes.
    assert [key for key, _ in params] == ["attachment", "filename", "filename"]
    assert urllib.parse.unquote(disposition.split("filename*=UTF-8''")[1]) == shown


# What a served file must be: (name, bytes, Content-Type, inline?).
SERVED = {
    "image": ("p.png", png(), "image/png", True),
    "text-with-markup": (
        "notes.txt",
        b"just notes\n<script>alert(1)</script>\n<html>",
        "text/plain; charset=utf-8",
        False,
    ),
    "pdf": ("paper.pdf", b"%PDF-1.4\n/JS (app.alert(1))\n%%EOF\n", "application/pdf", False),
}


@pytest.mark.parametrize("kind", list(SERVED))
@pytest.mark.parametrize("which", ["file", "thumbnail"])
def test_served_files_cannot_run_anything(
    closed_site: Daphne, world: World, kind: str, which: str
) -> None:
    name, data, content_type, inline = SERVED[kind]
    browser = Browser(closed_site, world.cookies["alice"])
    browser.open_room(world.hall)
    status, reply = browser.upload(world.hall, name, data, "text/html")
    assert status == 201, reply
    url = reply["attachment"]["url"] if which == "file" else reply["attachment"]["thumbnail"]
    if url is None:
        assert not inline  # only images have thumbnails
        return
    status, headers, _ = browser.request(url)
    assert status == 200
    if which == "thumbnail":
        content_type = "image/webp"
    assert headers["Content-Type"] == content_type
    assert headers["Content-Disposition"].startswith("inline;" if inline else "attachment;")
    assert headers["X-Content-Type-Options"] == "nosniff"
    policy = headers["Content-Security-Policy"]
    assert "sandbox" in policy
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert headers["Cache-Control"].startswith("private")


def test_an_svg_an_operator_allows_is_only_a_download(world: World, settings: Any) -> None:
    settings.CHAT_UPLOAD_TYPES = [*settings.CHAT_UPLOAD_TYPES, "image/svg+xml", "text/html"]
    client = world.client("alice")
    for name, data in (("d.svg", SVG_WITH_SCRIPT), ("p.html", HTML_PAYLOAD)):
        reply = client.post(
            f"/chat/{world.hall.slug}/files/", {"file": SimpleUploadedFile(name, data)}
        )
        assert reply.status_code == 201
        served = client.get(reply.json()["attachment"]["url"])
        assert served["Content-Type"] == "application/octet-stream"
        assert served["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in served["Content-Security-Policy"]


def test_a_name_too_long_for_the_form_is_refused(closed_site: Daphne, world: World) -> None:
    browser = Browser(closed_site, world.cookies["alice"])
    browser.open_room(world.hall)
    status, _ = browser.upload(world.hall, "n" * 2000 + ".txt", b"words\n", "text/plain")
    assert status == 400  # Django's bound on a part's headers
    assert not Attachment.objects.filter(room=world.hall).exists()


# ------------------------------------------------ 5. unsubscribe links


def preferences(user: Any) -> dict[str, bool]:
    found = EmailPreference.objects.filter(user=user).first() or EmailPreference(user=user)
    return {str(kind): found.wants(kind) for kind in EMAILED_KINDS}


ALL_ON = {"mention": True, "direct": True, "staff": True}


def forged(token: str, **changes: Any) -> str:
    """The token with its payload changed and its signature kept."""
    _payload, _, signature = token.rpartition(":")
    data = signing.loads(token, salt=tokens.SALT)
    encoded = base64.urlsafe_b64encode(
        json.dumps({**data, **changes}, separators=(",", ":")).encode()
    )
    return f"{encoded.decode().rstrip('=')}:{signature}"


def unsubscribe(token: str, method: str = "post") -> Any:
    client = Client(enforce_csrf_checks=True)  # as a mail provider: no cookie, no token
    return getattr(client, method)(f"/notifications/unsubscribe/{token}/")


@pytest.mark.parametrize(
    "attack",
    ["other-user", "more-kinds", "other-salt", "unsigned", "truncated", "deleted-user"],
)
def test_a_changed_unsubscribe_link_changes_nothing(world: World, attack: str) -> None:
    alice, eve = world.users["alice"], world.users["eve"]
    token = tokens.unsubscribe_token(user_id=alice.pk, kinds=["mention"])
    bad = {
        "other-user": lambda: forged(token, u=eve.pk),
        "more-kinds": lambda: forged(token, k=["mention", "direct", "staff"]),
        "other-salt": lambda: signing.dumps({"u": eve.pk, "k": ["mention"]}),
        "unsigned": lambda: token.rpartition(":")[0],
        "truncated": lambda: token[:-3],
        "deleted-user": lambda: tokens.unsubscribe_token(user_id=10**9, kinds=["mention"]),
    }[attack]()
    # (A signed link of an account deleted since reads as a link: its page asks.)
    assert unsubscribe(bad, "get").status_code == (200 if attack == "deleted-user" else 400)
    assert unsubscribe(bad).status_code == 400
    assert preferences(alice) == preferences(eve) == ALL_ON


def test_an_unsubscribe_link_asks_first_then_turns_off_its_kinds_only(world: World) -> None:
    alice = world.users["alice"]
    token = tokens.unsubscribe_token(user_id=alice.pk, kinds=["mention", "staff"])
    page = unsubscribe(token, "get")
    assert page.status_code == 200  # mail scanners follow links: asking changes nothing
    assert b"<form" in page.content
    assert preferences(alice) == ALL_ON
    assert unsubscribe(token).status_code == 200  # no cookie, no CSRF token: the link is it
    assert preferences(alice) == {"mention": False, "direct": True, "staff": False}
    assert preferences(world.users["eve"]) == ALL_ON


def test_the_digests_link_is_for_its_reader_only(world: World, mailoutbox: list[Any]) -> None:
    hostile = '@alice <img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a>'
    services.message_post(room=world.hall, author=world.users["eve"], body=hostile)
    digests_send(now=timezone.now() + timedelta(minutes=30))
    (mail,) = [mail for mail in mailoutbox if mail.to == ["alice@example.org"]]
    (html, kind) = mail.alternatives[0]
    assert kind == "text/html"
    assert "&lt;img src=x" in html  # a message's text is text in the email too
    assert "<img" not in html
    assert 'href="javascript' not in html
    header = mail.extra_headers["List-Unsubscribe"]
    token = header.rsplit("/unsubscribe/", 1)[1].split("/")[0]
    found = tokens.unsubscribe_read(token)
    assert found is not None
    assert (found.user_id, found.kinds) == (world.users["alice"].pk, ("mention",))
    assert "/notifications/unsubscribe/" in mail.extra_headers["List-Unsubscribe"]
    assert mail.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("attack", ["no-token", "foreign-origin"])
def test_the_email_settings_page_refuses_forged_posts(world: World, attack: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["alice"])
    assert client.get("/notifications/settings/").status_code == 200
    token = client.cookies["csrftoken"].value
    settings_page = "/notifications/settings/"
    if attack == "no-token":
        reply = client.post(settings_page, {})  # every box unticked
    else:
        form = {"csrfmiddlewaretoken": token}
        reply = client.post(settings_page, form, HTTP_ORIGIN="http://evil.example")
    assert reply.status_code == 403
    assert preferences(world.users["alice"]) == ALL_ON
    # The page's own form, from the site's own origin, is taken.
    own = client.post(
        settings_page, {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="http://testserver"
    )
    assert own.status_code == 302
    assert preferences(world.users["alice"]) == dict.fromkeys(ALL_ON, False)


# ------------------------------------------------ 6. blocking


@pytest.fixture
def blocked(world: World) -> Room:
    """owner and alice talk directly; then alice blocks owner. The direct conversation."""
    direct = services.direct_open(user=world.users["owner"], usernames=["alice"])
    services.message_post(room=direct, author=world.users["owner"], body="hello alice")
    services.user_block(user=world.users["alice"], username="owner", blocked=True)
    return direct


def alices_notifications(world: World) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(recipients__user=world.users["alice"])
        .order_by("id")
        .values_list("title", "body")
    )


DIRECT_WRITES = {
    "post": ({"type": "message.send", "body": "you cannot ignore me"}, "forbidden"),
    "reply": ({"type": "message.send", "body": "re", "reply_to": "FIRST"}, "forbidden"),
    "edit": ({"type": "message.edit", "id": "FIRST", "body": "something nasty"}, "forbidden"),
    "react": ({"type": "reaction.toggle", "id": "FIRST", "emoji": "👀"}, "forbidden"),
}


@pytest.mark.parametrize("write", list(DIRECT_WRITES))
async def test_someone_blocked_cannot_write_in_a_shared_direct_conversation(
    daphne_server: Daphne, world: World, blocked: Room, write: str
) -> None:
    first = await db(Message.objects.get)(room=blocked)
    before = await db(alices_notifications)(world)
    frame, code = DIRECT_WRITES[write]
    frame = {key: first.pk if value == "FIRST" else value for key, value in frame.items()}
    ws = await connect(daphne_server, room_path(blocked), world.cookies["owner"])
    try:
        await next_frame(ws, "sync")
        answer = await reply_to(ws, frame)
        assert (answer["type"], answer.get("code")) == ("error", code), answer
    finally:
        await ws.close()
    assert await db(lambda: list(Message.objects.filter(room=blocked).values_list("body")))() == [
        ("hello alice",)
    ]
    assert not await db(Reaction.objects.filter(message=first).exists)()
    assert await db(alices_notifications)(world) == before


async def test_someone_blocked_is_not_even_seen_typing_in_it(
    daphne_server: Daphne, world: World, blocked: Room
) -> None:
    owner = await connect(daphne_server, room_path(blocked), world.cookies["owner"])
    alice = await connect(daphne_server, room_path(blocked), world.cookies["alice"])
    try:
        await next_frame(owner, "sync")
        await next_frame(alice, "sync")
        assert (await reply_to(owner, {"type": "typing"}))["type"] == "ack"
        # Her own typing comes back to her (the barrier): nothing of his before it.
        await alice.send(json.dumps({"type": "typing"}))
        async with asyncio.timeout(10):
            while (frame := json.loads(await alice.recv()))["type"] != "typing":
                pass
        assert frame["user"]["username"] == "alice"
    finally:
        await owner.close()
        await alice.close()


@pytest.mark.parametrize(
    "names", ["alice", "alice,mod", "mod, alice"], ids=["one", "group", "group2"]
)
async def test_someone_blocked_cannot_start_a_conversation_with_the_blocker(
    daphne_server: Daphne, world: World, blocked: Room, names: str
) -> None:
    ws = await connect(daphne_server, "/ws/chat/", world.cookies["owner"])
    try:
        await next_frame(ws, "rooms")
        answer = await reply_to(ws, {"type": "direct.open", "usernames": names})
        assert (answer["type"], answer.get("code")) == ("error", "forbidden")
    finally:
        await ws.close()
    owner = world.users["owner"]
    directs = await db(Room.objects.filter(kind="direct", memberships__user=owner).count)()
    assert directs == 1  # only the conversation they had


def test_mentions_and_replies_of_someone_blocked_notify_nothing(
    world: World, blocked: Room
) -> None:
    users = world.users
    before = alices_notifications(world)
    hers = services.message_post(room=world.hall, author=users["alice"], body="my idea")
    services.message_post(
        room=world.hall, author=users["owner"], body="@alice no", reply_to=hers.pk
    )
    services.message_post(room=world.hall, author=users["owner"], body="hey @alice @mod")
    assert alices_notifications(world) == before
    assert Notification.objects.filter(recipients__user=users["mod"]).exists()  # others are told


def test_an_old_mention_edited_after_the_block_keeps_its_text(
    world: World, make_user: Callable[..., Any]
) -> None:
    users = world.users
    mention = services.message_post(room=world.hall, author=users["owner"], body="hi @alice")
    services.user_block(user=users["alice"], username="owner", blocked=True)
    services.message_edit(
        room=world.hall, user=users["owner"], message_id=mention.pk, body="@alice something nasty"
    )
    assert [body for _, body in alices_notifications(world) if "nasty" in body] == []
    # A deletion still takes the text away from everyone's notifications.
    services.message_delete(messages=[mention])
    assert services.MENTION_DELETED in [body for _, body in alices_notifications(world)]


async def test_someone_blocked_cannot_invite_the_blocker(
    daphne_server: Daphne, world: World
) -> None:
    await db(services.user_block)(user=world.users["zed"], username="owner", blocked=True)
    ws = await connect(daphne_server, room_path(world.secret), world.cookies["owner"])
    try:
        await next_frame(ws, "sync")
        answer = await reply_to(ws, {"type": "member.invite", "username": "zed"})
        assert (answer["type"], answer.get("code")) == ("error", "forbidden"), answer
    finally:
        await ws.close()
    assert not await db(Membership.objects.filter(user=world.users["zed"]).exists)()


# ------------------------------------------------ the notifications socket


@pytest.mark.parametrize("viewer", LOGGED_IN_OUTSIDERS)
async def test_the_notifications_socket_holds_nothing_of_it(
    daphne_server: Daphne, world: World, viewer: str
) -> None:
    ws = await connect(daphne_server, "/ws/notifications/", world.cookies[viewer])
    try:
        sync = await next_frame(ws, "sync")
        assert sync["notifications"] == []
        assert sync["unread"] == 0
    finally:
        await ws.close()


def test_pages_show_a_messages_markup_as_text(world: World) -> None:
    """The search page and the inbox render message text on the server."""
    body = "@alice <script>alert('qqxss')</script><img src=x onerror=alert(1)>"
    services.message_post(room=world.hall, author=world.users["eve"], body=body)
    client = world.client("alice")
    for page in (client.get("/chat/search/", {"q": "qqxss"}), client.get("/notifications/")):
        text = page.content.decode()
        assert "qqxss" in text
        assert "<script>alert('qqxss')" not in text
        assert "<img src=x" not in text
