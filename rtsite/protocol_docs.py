"""Generated from the frame declarations: ``static/realtime/protocol.js`` (frame type
names, close codes, limits), for the pages' scripts. ``make protocol`` writes it;
tests/rtsite/test_protocol_docs.py fails when the committed file differs.

    python -m rtsite.protocol_docs          # write it
    python -m rtsite.protocol_docs --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django
from django.apps import apps

if not apps.ready:  # run as a script (make protocol): the apps' modules need Django set up
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtsite.settings")
    django.setup()

from django.conf import settings

from chat import protocol as chat
from game import protocol as game
from realtime import consumers
from realtime.protocol import REF_MAX_LENGTH
from rtsite.routing import websocket_urlpatterns

JS_PATH = Path(__file__).resolve().parents[1] / "static" / "realtime" / "protocol.js"


def _key(frame_type: str) -> str:
    return frame_type.upper().replace(".", "_")


def _frozen(name: str, values: dict[str, str | int]) -> str:
    body = ", ".join(
        f"{key}: {value}" if isinstance(value, int) else f'{key}: "{value}"'
        for key, value in values.items()
    )
    return f"export const {name} = Object.freeze({{ {body} }});\n"


def protocol_js() -> str:
    """The module's text, from the declarations of every socket (in routing order)."""
    client: dict[str, str] = {}
    server: dict[str, str] = {}
    for pattern in websocket_urlpatterns[:-1]:
        consumer = pattern.callback.consumer_class
        client.update({_key(t): t for t in consumer.client_frames})
        server.update({_key(t): t for t in consumer.server_frames})
    close = {
        name.removeprefix("CLOSE_"): value
        for name, value in vars(consumers).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    limits: dict[str, str | int] = {
        "MAX_FRAME_BYTES": settings.RT_MAX_FRAME_BYTES,
        "REF_MAX_LENGTH": REF_MAX_LENGTH,
        "BODY_TRANSPORT_LIMIT": chat.BODY_TRANSPORT_LIMIT,
        "NONCE_MAX_LENGTH": chat.NONCE_MAX_LENGTH,
        "EMOJI_MAX_LENGTH": chat.EMOJI_MAX_LENGTH,
        "INVITE_MAX_LENGTH": game.INVITE_MAX,
        "ARENA_SEQ_MAX": game.ARENA_SEQ_MAX,
    }
    return (
        "// Generated from the frame declarations: do not edit (make protocol).\n"
        + _frozen("CLIENT", dict(sorted(client.items())))
        + _frozen("SERVER", dict(sorted(server.items())))
        + _frozen("CLOSE", close)
        + _frozen("LIMITS", limits)
    )


def main() -> int:
    text = protocol_js()
    if "--check" in sys.argv[1:]:
        current = JS_PATH.read_text() if JS_PATH.exists() else ""
        if current != text:
            print(f"{JS_PATH} is out of date: make protocol", file=sys.stderr)
            return 1
        return 0
    JS_PATH.parent.mkdir(parents=True, exist_ok=True)
    JS_PATH.write_text(text)
    print(f"wrote {JS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
