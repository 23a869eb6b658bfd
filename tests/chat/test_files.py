"""Files in messages on the real stack: uploads over HTTP (hostile ones too), sending
them with a message over a socket, who may fetch them, and their deletion."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from PIL import ExifTags, Image

from chat import protocol, selectors, services
from chat.models import Attachment, Message, Room
from realtime.errors import ActionError
from realtime.protocol import parse_frame
from tests.chat.files_helpers import (
    HTML_PAYLOAD,
    SVG_WITH_SCRIPT,
    jpeg_with_gps,
    png,
    png_header_only,
)
from tests.conftest import manage, open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(make_room: Callable[..., Room]) -> Room:
    return make_room()


@pytest.fixture
def alice(make_user: Callable[..., Any]) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(make_user: Callable[..., Any]) -> Any:
    return make_user("bob")


def client_of(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def upload(client: Client, room: Room, name: str, data: bytes) -> Any:
    return client.post(f"/chat/{room.slug}/files/", {"file": SimpleUploadedFile(name, data)})


def uploaded(user: Any, room: Room, name: str, data: bytes) -> dict[str, Any]:
    reply = upload(client_of(user), room, name, data)
    assert reply.status_code == 201, reply.content
    return reply.json()["attachment"]


def stored(name: str) -> bytes:
    with services.uploads().open(name) as file:
        return file.read()


def exists(name: str) -> bool:
    return services.uploads().exists(name)


# ---------------------------------------------------------------- uploads and serving


def test_an_image_is_stored_pending_with_its_thumbnail(room: Room, alice: Any, bob: Any) -> None:
    data = uploaded(alice, room, "cat photo.png", png(800, 600))
    assert data["name"] == "cat photo.png"
    assert data["type"] == "image/png"
    assert (data["width"], data["height"]) == (800, 600)
    assert (data["thumb_width"], data["thumb_height"]) == (360, 270)
    assert data["url"] == f"/chat/files/{data['id']}/cat%20photo.png"
    attachment = Attachment.objects.get(pk=data["id"])
    assert attachment.message is None
    assert attachment.uploader == alice
    # The stored names are random: nothing of the file's name, room or uploader.
    for name in (attachment.file, attachment.thumbnail):
        assert "cat" not in name
        assert room.slug not in name
        assert len(name) > 30
    # Pending: only the uploader may fetch it.
    mine = client_of(alice).get(data["url"])
    assert mine.status_code == 200
    assert mine.content == stored(attachment.file)
    assert client_of(bob).get(data["url"]).status_code == 404
    assert client_of(None).get(data["url"]).status_code == 404
    thumb = client_of(alice).get(data["thumbnail"])
    assert thumb["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (360, 270)


def test_served_files_carry_safe_headers(room: Room, alice: Any) -> None:
    image = uploaded(alice, room, "résumé photo.png", png())
    text = uploaded(alice, room, "notes.txt", b"plain words\n")
    pdf = uploaded(alice, room, "paper.pdf", b"%PDF-1.4\n%binary\n")
    client = client_of(alice)
    reply = client.get(image["url"])
    assert reply["Content-Type"] == "image/png"
    assert reply["Content-Disposition"] == (
        "inline; filename=\"resume photo.png\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20photo.png"
    )
    assert reply["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in reply["Content-Security-Policy"]
    assert "default-src 'none'" in reply["Content-Security-Policy"]
    assert reply["Cache-Control"].startswith("private")
    reply = client.get(text["url"])
    assert reply["Content-Type"] == "text/plain; charset=utf-8"
    assert reply["Content-Disposition"].startswith("attachment;")
    assert reply["X-Content-Type-Options"] == "nosniff"
    assert client.get(pdf["url"])["Content-Disposition"].startswith("attachment;")


@override_settings(CHAT_UPLOAD_ACCEL_REDIRECT="/_uploads/")
def test_behind_nginx_the_view_answers_with_x_accel_redirect(room: Room, alice: Any) -> None:
    image = uploaded(alice, room, "a.png", png())
    reply = client_of(alice).get(image["url"])
    attachment = Attachment.objects.get(pk=image["id"])
    assert reply["X-Accel-Redirect"] == "/_uploads/" + attachment.file
    assert reply.content == b""
    assert reply["Content-Type"] == "image/png"
    assert reply["X-Content-Type-Options"] == "nosniff"
    assert reply["Content-Disposition"].startswith("inline;")


def test_uploads_need_a_login_a_csrf_token_and_a_room(room: Room, alice: Any) -> None:
    reply = upload(client_of(None), room, "a.png", png())
    assert reply.status_code == 403
    assert reply.json() == {"error": "Log in to share files."}
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(alice)
    reply = upload(guarded, room, "a.png", png())
    assert reply.status_code == 403
    assert not Attachment.objects.exists()
    reply = client_of(alice).post(
        "/chat/no-such-room/files/", {"file": SimpleUploadedFile("a", b"x")}
    )
    assert reply.status_code == 404
    reply = client_of(alice).post(f"/chat/{room.slug}/files/", {})
    assert reply.json() == {"error": "Choose a file to share."}


def test_muted_users_cannot_upload(room: Room, alice: Any) -> None:
    services.user_mute(room=room, user=alice)
    reply = upload(client_of(alice), room, "a.png", png())
    assert reply.status_code == 403
    assert reply.json() == {"error": "You are muted in this room."}


@override_settings(CHAT_POST_BURST=2, CHAT_POST_RATE_PER_SECOND=0.01)
def test_uploads_count_against_the_accounts_write_limit(room: Room, alice: Any) -> None:
    client = client_of(alice)
    assert upload(client, room, "a.txt", b"one").status_code == 201
    assert upload(client, room, "b.txt", b"two").status_code == 201
    reply = upload(client, room, "c.txt", b"three")
    assert reply.status_code == 429
    assert reply.json()["error"].startswith("You're uploading files too fast.")


# ---------------------------------------------------------------- hostile files


@override_settings(CHAT_UPLOAD_MAX_BYTES=1000)
def test_an_oversized_file_is_refused(room: Room, alice: Any) -> None:
    for size in (1001, 1000 + 20_000):  # in the file, and plainly in the request's length
        reply = upload(client_of(alice), room, "big.txt", b"a" * size)
        assert reply.status_code == 413
        assert reply.json() == {"error": "This file is too big. The limit is 1 KB."}
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("drawing.svg", SVG_WITH_SCRIPT),
        ("cat.png", SVG_WITH_SCRIPT),  # an SVG under an image's name
        ("page.png", HTML_PAYLOAD),  # HTML under an image's name
        ("setup.exe", b"MZ\x90\x00\x03" + b"\x00" * 100),
    ],
)
def test_types_off_the_allow_list_are_refused_whatever_their_name(
    room: Room, alice: Any, name: str, data: bytes
) -> None:
    reply = upload(client_of(alice), room, name, data)
    assert reply.status_code == 400
    assert reply.json() == {"error": "Files of this type cannot be shared here."}
    assert not Attachment.objects.exists()


@override_settings(
    CHAT_UPLOAD_TYPES=["image/svg+xml", "text/plain"]  # an operator allowed SVG
)
def test_an_allowed_svg_is_only_ever_a_download(room: Room, alice: Any, bob: Any) -> None:
    data = uploaded(alice, room, "drawing.svg", SVG_WITH_SCRIPT)
    assert data["thumbnail"] is None
    reply = client_of(alice).get(data["url"])
    assert reply["Content-Type"] == "application/octet-stream"
    assert reply["Content-Disposition"].startswith("attachment;")


def test_a_polyglot_image_is_stored_as_pixels_only(room: Room, alice: Any) -> None:
    # A real PNG with an HTML page (and a ZIP's signature) after its end.
    hostile = png() + b"PK\x03\x04" + HTML_PAYLOAD
    data = uploaded(alice, room, "innocent.png", hostile)
    kept = stored(Attachment.objects.get(pk=data["id"]).file)
    assert b"<script>" not in kept
    assert b"PK\x03\x04" not in kept
    assert Image.open(io.BytesIO(kept)).size == (40, 30)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + HTML_PAYLOAD,  # an image's signature, then a page
        png()[:60],  # cut short
        b"GIF89a" + b"\x00" * 20,
    ],
)
def test_an_image_that_does_not_decode_is_refused(room: Room, alice: Any, data: bytes) -> None:
    reply = upload(client_of(alice), room, "x.png", data)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("This image could not be read.")
    assert not Attachment.objects.exists()


def test_a_decompression_bomb_is_refused_before_decoding(room: Room, alice: Any) -> None:
    reply = upload(client_of(alice), room, "bomb.png", png_header_only(100_000, 100_000))
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "This image is too large to show: at most 40 million pixels are allowed."
    }
    with override_settings(CHAT_UPLOAD_MAX_PIXELS=1000):
        reply = upload(client_of(alice), room, "wide.png", png(100, 100))
    assert reply.json()["error"].startswith("This image is too large to show")


def test_gps_location_is_stripped_and_the_image_turned_upright(room: Room, alice: Any) -> None:
    original = jpeg_with_gps(64, 48, orientation=6)  # "rotate 90° to show"
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    data = uploaded(alice, room, "holiday.jpg", original)
    kept = stored(Attachment.objects.get(pk=data["id"]).file)
    image = Image.open(io.BytesIO(kept))
    assert image.format == "JPEG"
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in kept
    assert b"TestCam" not in kept
    assert image.size == (48, 64)
    assert (data["width"], data["height"]) == (48, 64)


def test_names_lose_path_parts_and_control_characters(room: Room, alice: Any) -> None:
    data = uploaded(alice, room, "..\\..\\evil\u202egpj.txt\x07", b"hello\n")
    assert data["name"] == "evilgpj.txt"
    assert "evil" not in Attachment.objects.get(pk=data["id"]).file


def test_the_type_is_read_from_the_content_not_the_name(room: Room, alice: Any) -> None:
    data = uploaded(alice, room, "notes.txt", png())
    assert data["type"] == "image/png"
    assert data["thumbnail"] is not None


# ---------------------------------------------------------------- sending and access


async def test_a_message_sends_its_uploads_and_everyone_in_the_room_sees_them(
    room: Room, alice: Any, bob: Any
) -> None:
    image = await database_sync_to_async(uploaded)(alice, room, "a.png", png())
    doc = await database_sync_to_async(uploaded)(alice, room, "b.txt", b"words\n")
    alice_cookie = await database_sync_to_async(session_cookie)(alice)
    bob_cookie = await database_sync_to_async(session_cookie)(bob)
    path = f"/ws/chat/{room.slug}/"
    async with (
        open_socket(path, cookie=alice_cookie) as sender,
        open_socket(path, cookie=bob_cookie) as reader,
    ):
        await sender.next("sync")
        await reader.next("sync")
        await sender.send(
            {
                "type": "message.send",
                "body": "",
                "attachments": [image["id"], doc["id"]],
                "ref": "s",
            }
        )
        ack = await sender.next("ack")
        frame = await reader.next("message")
        files = frame["message"]["attachments"]
        assert [f["id"] for f in files] == [image["id"], doc["id"]]
        assert files[0] == image
        assert frame["message"]["body"] == ""
        # Sent once: the same ids again are refused (they are no longer pending).
        await sender.send({"type": "message.send", "body": "again", "attachments": [image["id"]]})
        error = await sender.next("error")
        assert error["message"] == (
            "A file you attached is no longer available. Remove it and attach it again."
        )
    async with open_socket(path, cookie=bob_cookie) as later:
        sync = await later.next("sync")
        [shown] = [m for m in sync["messages"] if m["id"] == ack["id"]]
        assert [f["name"] for f in shown["attachments"]] == ["a.png", "b.txt"]


def test_only_the_uploaders_pending_files_of_that_room_can_be_sent(
    make_room: Callable[..., Room], room: Room, alice: Any, bob: Any
) -> None:
    other_room = make_room()
    mine = uploaded(alice, room, "a.txt", b"a")["id"]
    elsewhere = uploaded(alice, other_room, "b.txt", b"b")["id"]
    bobs = uploaded(bob, room, "c.txt", b"c")["id"]
    for ids in ([bobs], [elsewhere], [mine, 10**9]):
        with pytest.raises(ActionError, match="no longer available"):
            services.message_post(room=room, author=alice, body="x", attachments=ids)
    assert not Message.objects.exists()  # refused whole: the message too
    with pytest.raises(ActionError, match="cannot be empty"):
        services.message_post(room=room, author=alice, body="  ")
    later = uploaded(alice, room, "d.txt", b"d")["id"]
    message = services.message_post(room=room, author=alice, body="", attachments=[later, mine])
    # In the order they were attached, not the order their uploads finished.
    assert list(message.attachments.values_list("pk", flat=True)) == [later, mine]
    with (
        override_settings(CHAT_UPLOAD_MAX_FILES=1),
        pytest.raises(ActionError, match="at most 1 files"),
    ):
        services.message_post(room=room, author=bob, body="", attachments=[bobs, 10**9])


def test_sent_files_are_served_to_those_who_may_see_the_room(
    room: Room, alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = uploaded(alice, room, "a.png", png())
    services.message_post(room=room, author=alice, body="look", attachments=[data["id"]])
    assert client_of(bob).get(data["url"]).status_code == 200
    assert client_of(bob).get(data["thumbnail"]).status_code == 200
    assert client_of(None).get(data["url"]).status_code == 200  # CHAT_ANONYMOUS_READ
    with override_settings(CHAT_ANONYMOUS_READ=False):
        assert client_of(None).get(data["url"]).status_code == 404
    # The one access decision says no (a private room bob is not in): as if it did not exist.
    monkeypatch.setattr(selectors, "room_visible_to", lambda *, room, user: user == alice)
    assert client_of(bob).get(data["url"]).status_code == 404
    assert client_of(bob).get(data["thumbnail"]).status_code == 404
    assert client_of(alice).get(data["url"]).status_code == 200
    assert upload(client_of(bob), room, "b.png", png()).status_code == 404


# ---------------------------------------------------------------- deletion


def sent(room: Room, user: Any, name: str = "a.png") -> tuple[Message, Attachment]:
    data = uploaded(user, room, name, png())
    message = services.message_post(room=room, author=user, body="", attachments=[data["id"]])
    return message, Attachment.objects.get(pk=data["id"])


def test_deleting_a_message_deletes_its_files(room: Room, alice: Any, bob: Any) -> None:
    message, attachment = sent(room, alice)
    assert exists(attachment.file)
    services.message_delete_own(room=room, user=alice, message_id=message.pk)
    assert not Attachment.objects.exists()
    assert not exists(attachment.file)
    assert not exists(attachment.thumbnail)
    assert client_of(alice).get(attachment.get_absolute_url()).status_code == 404


def test_retention_and_cascades_delete_files(
    make_room: Callable[..., Room], alice: Any, make_user: Callable[..., Any]
) -> None:
    room = make_room(retention=1)
    _old, old_file = sent(room, alice)
    _new, new_file = sent(room, alice)  # the post prunes the older message
    assert not exists(old_file.file)
    assert exists(new_file.file)
    room.delete()
    assert not exists(new_file.file)
    assert not exists(new_file.thumbnail)
    carol = make_user("carol")
    other = make_room()
    _message, hers = sent(other, carol)
    pending = Attachment.objects.get(pk=uploaded(carol, other, "b.txt", b"b")["id"])
    carol.delete()
    assert not exists(hers.file)
    assert not exists(pending.file)


def test_a_rolled_back_deletion_keeps_the_files(room: Room, alice: Any) -> None:
    _message, attachment = sent(room, alice)

    def delete_then_fail() -> None:
        with transaction.atomic():
            Attachment.objects.all().delete()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        delete_then_fail()
    assert exists(attachment.file)


def test_uploads_never_sent_are_pruned(room: Room, alice: Any) -> None:
    pending = Attachment.objects.get(pk=uploaded(alice, room, "a.png", png())["id"])
    _message, kept = sent(room, alice, "b.png")
    assert services.attachment_prune_pending(older_than=timedelta(hours=1)) == 0
    Attachment.objects.filter(pk=pending.pk).update(
        created_at=pending.created_at - timedelta(days=2)
    )
    output = manage("prune_rooms").stdout
    assert "Removed 1 upload(s) never sent." in output
    assert not Attachment.objects.filter(pk=pending.pk).exists()
    assert not exists(pending.file)
    assert exists(kept.file)


def test_the_admin_lists_files_and_shows_them_on_their_message(
    room: Room, alice: Any, make_user: Callable[..., Any]
) -> None:
    message, attachment = sent(room, alice, "shown.png")
    staff = client_of(make_user("boss", is_staff=True, is_superuser=True))
    listing = staff.get("/admin/chat/attachment/").content.decode()
    assert "shown.png" in listing
    page = staff.get(f"/admin/chat/message/{message.pk}/change/").content.decode()
    assert attachment.get_absolute_url() in page
    staff.post(f"/admin/chat/attachment/{attachment.pk}/delete/", {"post": "yes"})
    assert not exists(attachment.file)


@pytest.mark.parametrize(
    ("attachments", "refusal"),
    [
        ("1", "'attachments' must be a list."),
        (["1"], "'attachments' must be an integer."),
        ([-1], "'attachments' must be at least 0."),
        (list(range(51)), "'attachments' must have at most 50 items."),
    ],
)
def test_the_send_frame_checks_its_list_of_uploads(attachments: Any, refusal: str) -> None:
    frame = json.dumps({"type": "message.send", "body": "", "attachments": attachments})
    with pytest.raises(ActionError) as raised:
        parse_frame(frame, protocol.ROOM_CLIENT_FRAMES)
    assert raised.value.message == refusal
    _spec, fields, _ref = parse_frame(
        json.dumps({"type": "message.send", "body": "hi"}), protocol.ROOM_CLIENT_FRAMES
    )
    assert fields["attachments"] == []
