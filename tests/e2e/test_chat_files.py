"""Files in chat, in real browsers: alice attaches by drop and by paste (an upload's
progress and its cancel too), bob sees the image and the file live and opens the image;
files refused before any upload; axe over a room with files."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from chat.models import Attachment, Room
from tests.chat.files_helpers import png
from tests.conftest import Daphne
from tests.e2e.conftest import log_in, shot
from tests.e2e.test_site import axe_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Makes a File in the page from base64 and hands it over as a drop or a paste.
GIVE_FILES = """([how, files]) => {
  const transfer = new DataTransfer();
  for (const [name, type, data] of files) {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, {type}));
  }
  if (how === "paste") {
    const box = document.getElementById("composer-body");
    const init = {clipboardData: transfer, bubbles: true, cancelable: true};
    box.dispatchEvent(new ClipboardEvent("paste", init));
    return;
  }
  const zone = document.querySelector(".chat");
  for (const kind of ["dragenter", "dragover", "drop"]) {
    const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
    zone.dispatchEvent(new DragEvent(kind, init));
  }
}"""


def give(page: Any, how: str, name: str, kind: str, data: bytes) -> None:
    give_many(page, how, [(name, kind, data)])


def give_many(page: Any, how: str, files: list[tuple[str, str, bytes]]) -> None:
    """Files dropped on the room, or pasted into the box, as a person's would be."""
    encoded = [[name, kind, base64.b64encode(data).decode()] for name, kind, data in files]
    page.evaluate(GIVE_FILES, [how, encoded])


def uploads_seen(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.url.endswith("/files/") else None)
    return seen


def test_files_go_by_drop_and_paste_and_show_live(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    make_user("bob")
    room = make_room(title="Files")
    path = f"/chat/{room.slug}/"
    alice = log_in(browser, daphne_server.url, "alice", path)
    bob = log_in(browser, daphne_server.url, "bob", path)
    requests = uploads_seen(alice)

    # Two dropped on the room at once: uploaded at once, sent together with no text.
    give_many(
        alice,
        "drop",
        [("sunset.png", "image/png", png(900, 600, "orange")), ("sea.png", "image/png", png())],
    )
    alice.locator(".upload[data-state=done]", has_text="sunset.png").wait_for()
    alice.locator(".upload[data-state=done]", has_text="sea.png").wait_for()
    assert alice.locator(".upload .upload-detail").first.text_content().endswith("· ready")
    alice.locator("#composer-body").press("Enter")
    bob.locator(".message .attachment-image img[alt='sea.png']").wait_for()
    assert bob.locator(".message").count() == 1
    image = bob.locator(".message .attachment-image img").first
    image.wait_for()
    assert image.get_attribute("alt") == "sunset.png"
    # Its size is known before it loads: nothing below it moves.
    assert (image.get_attribute("width"), image.get_attribute("height")) == ("240", "160")
    bob.wait_for_function("document.querySelector('.attachment-image img').naturalWidth === 360")
    box = image.bounding_box()
    assert (box["width"], box["height"]) == (240, 160)
    alice.locator("#composer-uploads").wait_for(state="hidden")

    # Pasted into the box, with words.
    alice.fill("#composer-body", "the notes")
    give(alice, "paste", "notes & draft.txt", "text/plain", b"first line\nsecond line\n")
    alice.locator(".upload[data-state=done]").wait_for()
    alice.locator("#composer-body").press("Enter")
    download = bob.locator(".message .attachment-file")
    download.wait_for()
    assert download.locator(".attachment-name").text_content() == "notes & draft.txt"
    assert download.locator(".attachment-size").text_content() == "23 bytes"
    assert download.get_attribute("download") == "notes & draft.txt"
    assert bob.locator(".message", has_text="the notes").count() == 1
    assert len(requests) == 3

    # The thumbnail opens the full image in a dialog, by keyboard too; Escape closes it.
    bob.locator(".attachment-image").first.focus()
    bob.keyboard.press("Enter")
    viewer = bob.locator("#image-viewer")
    viewer.wait_for()
    bob.wait_for_function("document.getElementById('image-viewer-img').naturalWidth === 900")
    size = bob.locator("#image-viewer-size").text_content()
    assert size.startswith("900 \u00d7 600 · ")
    bob.keyboard.press("Escape")
    viewer.wait_for(state="hidden")
    # Opened on its own (a new tab, or without the viewer), under its strict policy.
    tab = bob.context.new_page()
    tab.goto(daphne_server.url + bob.locator(".attachment-image").first.get_attribute("href"))
    tab.wait_for_function("document.images.length === 1 && document.images[0].naturalWidth === 900")
    tab.close()

    # Refused before any upload: too big, and a type not allowed (by its name's type).
    alice.set_input_files(
        "#composer-file",
        files=[{"name": "huge.bin", "mimeType": "", "buffer": b"\0" * 10_000_001}],
    )
    status = alice.locator("#composer-status")
    assert status.text_content() == "“huge.bin” is too big. The limit is 10 MB."
    alice.set_input_files(
        "#composer-file",
        files=[{"name": "drawing.svg", "mimeType": "image/svg+xml", "buffer": b"<svg/>"}],
    )
    assert status.text_content() == (
        "“drawing.svg” cannot be shared here. You can share JPEG, PNG, GIF, WebP, PDF and"
        " text files."
    )
    assert alice.locator("#composer-uploads").is_hidden()
    assert len(requests) == 3

    # A refusal only the server can make (the content is not what the name says).
    give(alice, "drop", "cat.png", "image/png", b"<html><script>alert(1)</script></html>")
    alice.locator(
        ".upload[data-state=failed]", has_text="Files of this type cannot be shared here."
    ).wait_for()
    alice.locator(".upload-cancel", has_text="Remove").click()
    alice.locator("#composer-uploads").wait_for(state="hidden")

    # An upload in progress shows its bar, and Cancel stops it: nothing is stored.
    stored = Attachment.objects.count()
    alice.route("**/files/", lambda route: None)  # held: never answered
    give(alice, "drop", "slow.png", "image/png", png(30, 30))
    uploading = alice.locator(".upload[data-state=uploading]")
    uploading.wait_for()
    assert uploading.locator("progress").is_visible()
    alice.fill("#composer-body", "not yet")
    alice.locator("#composer-body").press("Enter")
    assert (
        status.text_content() == "Your files are still uploading. Send again when they are ready."
    )
    uploading.locator("button", has_text="Cancel").click()
    alice.locator("#composer-uploads").wait_for(state="hidden")
    alice.unroute("**/files/")
    assert Attachment.objects.count() == stored
    assert alice.dialogs == []
    assert bob.dialogs == []

    problems = axe_problems(bob, "a room with an image and a file")
    bob.keyboard.press("Escape")
    assert problems == [], "\n".join(problems)
    alice.context.close()
    bob.context.close()


def test_the_composer_with_uploads_passes_axe(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    make_user("alice")
    room = make_room(title="Files")
    alice = log_in(browser, daphne_server.url, "alice", f"/chat/{room.slug}/")
    give(alice, "drop", "ready.png", "image/png", png())
    alice.locator(".upload[data-state=done]").wait_for()
    alice.route("**/files/", lambda route: None)
    give(
        alice,
        "drop",
        "a file with a rather long name to see how it is cut.pdf",
        "application/pdf",
        b"%PDF-1.4\n",
    )
    alice.locator(".upload[data-state=uploading]").wait_for()
    shot(alice, "composer-uploads")
    problems = axe_problems(alice, "the composer with uploads")
    alice.unroute("**/files/")
    assert problems == [], "\n".join(problems)
    alice.context.close()
