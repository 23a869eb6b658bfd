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
