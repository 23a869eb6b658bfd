"""static/realtime/protocol.js is generated from the frame declarations (make protocol):
the committed file is what the declarations make now."""

from __future__ import annotations

from rtsite import protocol_docs


def test_the_committed_protocol_js_is_in_step_with_the_declarations() -> None:
    assert protocol_docs.JS_PATH.read_text() == protocol_docs.protocol_js(), (
        "static/realtime/protocol.js is out of date: run make protocol"
    )


def test_it_names_every_frame_close_code_and_limit() -> None:
    text = protocol_docs.protocol_js()
    assert 'MESSAGE_SEND: "message.send"' in text
    assert 'MESSAGE_DELETED: "message.deleted"' in text
    assert "LOGGED_OUT: 4401" in text
    assert "TRY_AGAIN: 1013" in text
    assert "REF_MAX_LENGTH: 64" in text
