"""Every message a page can show a person, listed and checked for plain words.

The server's refusals (``ActionError``, ``send_error``, the Connect Four rules' reasons)
are shown by the pages as they are, and the pages' own lines (``showError``,
``setStatus``, ``showNote``) beside them. Each one is a sentence: a capital first, one
full stop at the end, and none of the protocol's words. The wire-format refusals (a
frame that is not JSON, an unknown type, a field of the wrong kind) answer only a
hand-written client, so they may name the protocol's parts, but they are sentences too.

``pytest -v tests/realtime/test_wording.py`` prints the list.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from realtime.errors import try_again_in

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "chat", "common", "game", "notifications", "realtime", "rtsite")
# Raised where a message names a field of the frame that was refused: for client authors.
WIRE_FORMAT_FILES = {"realtime/protocol.py"}
WIRE_FORMAT_CODES = {"BAD_JSON", "BAD_FRAME", "UNKNOWN_TYPE"}
# What a person should never read: the protocol's parts and the codes of its errors.
JARGON = re.compile(
    r"\b(frames?|sockets?|websockets?|json|payload|ref|null|undefined|nonce|"
    r"[a-z]+_[a-z_]+|slow down)\b",
    re.IGNORECASE,
)
# A refusal (a Python call) and where its message is: (positional index, keyword).
RAISERS = {
    "ActionError": (1, "message"),
    "send_error": (1, "message"),
    "IllegalMoveError": (0, None),
    "not_applied": (0, "why"),
    "require_user": (0, "why"),
}
PAGE_CALLS = re.compile(r"\b(showError|setStatus|showNote)\(\s*\"((?:[^\"\\]|\\.)*)\"(\s*\+)?")


@dataclass(frozen=True)
class Shown:
    where: str
    text: str
    wire_format: bool = False
    continued: bool = False  # the start of a sentence a page completes

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


def _render(node: ast.expr, constants: dict[str, str]) -> str | None:
    """The text of a message literal (or of a module's string constant), with an example
    for each placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif (
                isinstance(value, ast.FormattedValue)
                and isinstance(value.value, ast.Call)
                and getattr(value.value.func, "id", "") == "try_again_in"
            ):
                parts.append(try_again_in(3))
            else:
                parts.append("7")
        return "".join(parts)
    return None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _constants(tree: ast.Module) -> dict[str, str]:
    """A module's string constants (a message may be kept in one, as SERVER_FAILED)."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


# The runtime's shared messages, imported by name where they are used.
SHARED = _constants(ast.parse((ROOT / "realtime" / "errors.py").read_text()))


def server_messages() -> list[Shown]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(), relative)
            constants = {**SHARED, **_constants(tree)}
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and node.name == "not_applied":
                    default = node.args.defaults[0]
                    text = _render(default, constants)
                    if text is not None:
                        found.append(Shown(f"{relative}:{node.lineno}", text))
                if not isinstance(node, ast.Call) or _name(node.func) not in RAISERS:
                    continue
                index, keyword = RAISERS[_name(node.func)]
                argument = node.args[index] if len(node.args) > index else None
                for kw in node.keywords:
                    if kw.arg == keyword:
                        argument = kw.value
                text = None if argument is None else _render(argument, constants)
                if text is None:  # passes on a message made elsewhere (checked there)
                    continue
                code = node.args[0] if node.args else None
                code_name = code.attr if isinstance(code, ast.Attribute) else ""
                wire = relative in WIRE_FORMAT_FILES or code_name in WIRE_FORMAT_CODES
                found.append(Shown(f"{relative}:{node.lineno}", text, wire))
    return found


def page_messages() -> list[Shown]:
    found = []
    for path in sorted((ROOT / "static").rglob("*.js")):
        relative = path.relative_to(ROOT).as_posix()
        source = path.read_text()
        for match in PAGE_CALLS.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            text = match.group(2)
            if text and text != "Sending…":
                found.append(Shown(f"{relative}:{line}", text, continued=bool(match.group(3))))
    return found


SERVER = server_messages()
PAGES = page_messages()


def test_the_lists_are_whole() -> None:
    """A change in how refusals are raised must not quietly empty the lists."""
    assert len(SERVER) >= 60
    assert len(PAGES) >= 6


@pytest.mark.parametrize("shown", SERVER + PAGES, ids=str)
def test_each_message_is_a_plain_sentence(shown: Shown) -> None:
    text = shown.text
    # A field's name, quoted, may begin a wire-format refusal.
    quoted_field = shown.wire_format and text[:1] == "'"
    assert text[:1].isupper() or text[:1].isdigit() or quoted_field, f"lower case: {text!r}"
    if not shown.continued:
        assert text.endswith((".", "?", "!")), f"does not end a sentence: {text!r}"
    assert ".." not in text, f"two full stops: {text!r}"
    assert ". ." not in text, f"two full stops: {text!r}"
    assert "  " not in text.strip(), f"a double space: {text!r}"
    if not shown.wire_format:
        assert not JARGON.search(text), f"a word people do not use: {text!r}"


def test_try_again_in_counts_whole_seconds() -> None:
    assert try_again_in(0.2) == "Try again in 1 second."
    assert try_again_in(1.0) == "Try again in 1 second."
    assert try_again_in(2.01) == "Try again in 3 seconds."
