"""What is generated from the frame declarations: ``static/realtime/protocol.js`` (the
frame type names, close codes and limits the pages' scripts use) and the frame tables of
``docs/protocol.md``. ``manage.py protocol`` writes both; ``manage.py protocol --check``
(and tests/realtime/test_protocol_docs.py) fails when a committed file differs.

The sockets are found from the project's WebSocket routes (``WEBSOCKET_ROUTES``, named in
settings as Django names ``ROOT_URLCONF``), so the runtime knows no app by name. An app's
protocol module adds the limits its pages check before sending in ``JS_LIMITS``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from realtime import close_codes
from realtime.consumers import JsonConsumer
from realtime.protocol import REF_MAX_LENGTH
from realtime.protocol_tables import client_table, server_table

ROOT = Path(settings.BASE_DIR)
JS_PATH = ROOT / "static" / "realtime" / "protocol.js"
DOCS_PATH = ROOT / "docs" / "protocol.md"

# ``<!-- frames: ChatRoomConsumer client -->`` ... ``<!-- end frames -->``: a socket's
# client or server frames table, by its consumer's class name (``common``: the frames of
# every socket). Only what lies between the markers is rewritten.
MARKER = re.compile(
    r"^(<!-- frames: (?P<socket>\w+) (?P<way>client|server) -->\n)(?:(?!<!-- ).)*?"
    r"^(?=<!-- end frames -->$)",
    re.MULTILINE | re.DOTALL,
)
COMMON = "common"


def sockets() -> Iterator[tuple[str, type[JsonConsumer]]]:
    """(route, consumer) for every socket of the site, in routing order."""
    for pattern in import_string(settings.WEBSOCKET_ROUTES):
        consumer = getattr(pattern.callback, "consumer_class", None)
        if consumer is not None and issubclass(consumer, JsonConsumer) and consumer.client_frames:
            yield str(pattern.pattern), consumer


def _key(frame_type: str) -> str:
    return frame_type.upper().replace(".", "_")


def _frozen(name: str, values: dict[str, Any]) -> str:
    body = ", ".join(
        f"{key}: {value}" if isinstance(value, int) else f'{key}: "{value}"'
        for key, value in values.items()
    )
    return f"export const {name} = Object.freeze({{ {body} }});\n"


def _declaring_modules(consumer: type[JsonConsumer]) -> set[Any]:
    frames = [*consumer.client_frames.values(), *consumer.server_frames.values()]
    return {sys.modules[frame.__module__] for frame in frames}


def protocol_js() -> str:
    client: dict[str, str] = {}
    server: dict[str, str] = {}
    limits: dict[str, int] = {"REF_MAX_LENGTH": REF_MAX_LENGTH}
    for _route, consumer in sockets():
        client.update({_key(t): t for t in consumer.client_frames})
        server.update({_key(t): t for t in consumer.server_frames})
        for module in sorted(_declaring_modules(consumer), key=lambda m: m.__name__):
            limits.update(getattr(module, "JS_LIMITS", {}))
    close = {
        name.removeprefix("CLOSE_"): value
        for name, value in vars(close_codes).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    return (
        "// Generated from the frame declarations: do not edit (manage.py protocol).\n"
        + _frozen("CLIENT", dict(sorted(client.items())))
        + _frozen("SERVER", dict(sorted(server.items())))
        + _frozen("CLOSE", close)
        + _frozen("LIMITS", limits)
    )


def _table(socket: str, way: str) -> str:
    common = JsonConsumer
    found = {consumer.__name__: consumer for _route, consumer in sockets()}
    consumer = common if socket == COMMON else found.get(socket)
    if consumer is None:
        raise ValueError(f"docs/protocol.md names no socket's consumer: {socket!r}")
    if way == "client":
        client = [spec.frame for spec in consumer.client_frames.values()]
        shared = [spec.frame for spec in common.client_frames.values()]
        return client_table(client, common=() if consumer is common else shared)
    # A socket's table leaves out the frames every socket sends (the common table's).
    server = list(consumer.server_frames.values())
    everyone = set(common.server_frames.values())
    return server_table([f for f in server if consumer is common or f not in everyone])


def protocol_md(text: str) -> str:
    """docs/protocol.md's ``text`` with the tables between its markers made anew."""
    made, count = MARKER.subn(lambda m: f"{m[1]}\n{_table(m['socket'], m['way'])}\n", text)
    starts = re.findall(r"^<!-- frames: ", text, re.MULTILINE)
    ends = re.findall(r"^<!-- end frames -->$", text, re.MULTILINE)
    if not count == len(starts) == len(ends):
        raise ValueError("docs/protocol.md: a frames marker without its end (or an end alone)")
    return made


def generated() -> dict[Path, str]:
    """Each generated file and what it should hold."""
    return {JS_PATH: protocol_js(), DOCS_PATH: protocol_md(DOCS_PATH.read_text())}


def out_of_date() -> list[Path]:
    return [
        path for path, text in generated().items() if not path.exists() or path.read_text() != text
    ]


def write() -> list[Path]:
    written = []
    for path, text in generated().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written
