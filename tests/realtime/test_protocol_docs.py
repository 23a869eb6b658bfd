"""What is generated from the frame declarations (``manage.py protocol``) is committed as
the declarations make it now."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from realtime import protocol_docs


def test_the_committed_files_are_what_the_declarations_make() -> None:
    assert protocol_docs.out_of_date() == [], "run: make protocol"
    call_command("protocol", "--check")


def test_protocol_js_names_every_frame_close_code_and_limit() -> None:
    text = protocol_docs.protocol_js()
    assert 'MESSAGE_SEND: "message.send"' in text
    assert 'MESSAGE_DELETED: "message.deleted"' in text
    assert 'ARENA_JOINED: "arena.joined"' in text
    assert "LOGGED_OUT: 4401" in text
    assert "TRY_AGAIN: 1013" in text
    assert "REF_MAX_LENGTH: 64" in text
    assert "NONCE_MAX_LENGTH: 64" in text


def test_the_check_fails_when_a_file_is_out_of_date(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = protocol_docs.JS_PATH.with_name("protocol-stale-test.js")
    monkeypatch.setattr(protocol_docs, "generated", lambda: {stale: "new text\n"})
    try:
        stale.write_text("old text\n")
        with pytest.raises(CommandError, match="out of date"):
            call_command("protocol", "--check")
    finally:
        stale.unlink()


def test_every_socket_has_its_tables_in_the_docs() -> None:
    text = protocol_docs.DOCS_PATH.read_text()
    for _route, consumer in protocol_docs.sockets():
        assert f"<!-- frames: {consumer.__name__} server -->" in text
        if len(consumer.client_frames) > 1:  # more than ping
            assert f"<!-- frames: {consumer.__name__} client -->" in text
    assert "<!-- frames: common client -->" in text
    assert "<!-- frames: common server -->" in text


def test_the_docs_tables_come_from_the_declarations() -> None:
    text = protocol_docs.generated()[protocol_docs.DOCS_PATH]
    # Who and Reply from a frame's docstring, a field's description for its type.
    assert (
        "| `message.delete` | `id`: message id | the author; the room's owners and moderators"
        " (staff too, in a public room) | `ack`; `message.deleted`"
    ) in text
    assert "| `accept_draw` | \u2013 | the other player | draw agreed |" in text
    assert "| `turn` | `dir`: `up`, `down`, `left` or `right`; `seq`: integer ≥ 0" in text
    assert "| `sync` | `mode`: string; `cursor`: integer; `room`: RoomData;" in text
    assert "| `joined` | `game`: Summary; `invite_url`: string, optional |" in text
    assert "| RoomListed | `slug`: string;" in text


def test_only_the_text_between_markers_is_rewritten() -> None:
    before = "# Title\n\nHand *written*.\n\n"
    after = "\nMore hand-written text.\n| not | a table of ours |\n"
    text = f"{before}<!-- frames: common server -->\n| stale |\n<!-- end frames -->\n{after}"
    made = protocol_docs.protocol_md(text)
    assert made.startswith(before + "<!-- frames: common server -->\n\n| Frame | Fields |\n")
    assert made.endswith("\n\n<!-- end frames -->\n" + after)
    assert "| `closing` | `reason`: string |" in made
    assert "stale" not in made
    assert protocol_docs.protocol_md(made) == made


@pytest.mark.parametrize(
    "text",
    [
        "<!-- frames: common server -->\nno end\n",
        "<!-- end frames -->\n",
        "<!-- frames: NoSuchConsumer server -->\n<!-- end frames -->\n",
    ],
)
def test_a_broken_marker_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"docs/protocol\.md"):
        protocol_docs.protocol_md(text)
