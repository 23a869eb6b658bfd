"""The pure checks of uploaded files (chat/filetypes.py): examples, then properties."""

from __future__ import annotations

import unicodedata
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat import filetypes

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (PNG, "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"hello, world\n", "text/plain"),
        ("Grüße, 世界\n".encode(), "text/plain"),
        (b"\xef\xbb\xbf  <!DOCTYPE html><p>x", "text/html"),
        (b"<script>alert(1)</script>", "text/html"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">', "image/svg+xml"),
        (b"  <svg onload=alert(1)>", "image/svg+xml"),
        (b'<?xml version="1.0"?><note/>', "application/xml"),
        (b"MZ\x90\x00", "application/x-msdownload"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
        (b"\x00\x00\x00\x18ftypavif", "image/avif"),
    ],
)
def test_sniff_reads_the_content_not_the_name(head: bytes, kind: str) -> None:
    assert filetypes.sniff(head) == kind


def test_text_cut_inside_a_character_is_still_text() -> None:
    text = ("é" * 3000).encode()[: filetypes.SNIFF_BYTES - 1]  # ends half way through one
    assert filetypes.sniff(text) == "text/plain"


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("report\u202egpj.exe", "reportgpj.exe"),  # a right-to-left override
        ("a\x00b\x1fc.txt", "abc.txt"),
        ("line\nbreak.txt", "line break.txt"),
        ("...hidden", "hidden"),
        ('what?*:"<>|.txt', "what_______.txt"),
        ("   ", "file"),
        ("", "file"),
    ],
)
def test_clean_name(name: str, cleaned: str) -> None:
    assert filetypes.clean_name(name) == cleaned


def test_a_name_with_nothing_left_gets_the_types_extension() -> None:
    assert filetypes.clean_name("\u202e/", "image/png") == "file.png"


def test_a_long_name_keeps_its_extension() -> None:
    cleaned = filetypes.clean_name("x" * 500 + ".jpeg")
    assert len(cleaned) == filetypes.NAME_MAX
    assert cleaned.endswith("x.jpeg")


@given(st.text(max_size=400))
def test_clean_name_is_always_a_safe_single_part(name: str) -> None:
    cleaned = filetypes.clean_name(name)
    assert cleaned
    assert len(cleaned) <= filetypes.NAME_MAX
    assert not set(cleaned) & set('/\\:*?"<>|')
    assert not cleaned.startswith(".")
    assert cleaned == cleaned.strip()
    assert all(unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"} for ch in cleaned)
    assert filetypes.clean_name(cleaned) == cleaned  # cleaning twice changes nothing


@given(st.text(min_size=1, max_size=100))
def test_content_disposition_round_trips_the_name(name: str) -> None:
    name = filetypes.clean_name(name)
    header = filetypes.content_disposition(name, inline=False)
    assert header.startswith("attachment; filename=")
    assert header.isascii()
    assert "\n" not in header
    assert "\r" not in header
    plain = header.split('filename="', 1)[1].split('";', 1)[0]
    assert '"' not in plain
    encoded = header.rsplit("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(encoded) == name


def test_served_type_never_lets_markup_render() -> None:
    assert filetypes.served_type("image/svg+xml") == "application/octet-stream"
    assert filetypes.served_type("text/html") == "application/octet-stream"
    assert filetypes.served_type("text/plain") == "text/plain; charset=utf-8"
    assert filetypes.served_type("image/png") == "image/png"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1 KB"),
        (1_450, "1.4 KB"),
        (820_000, "820 KB"),
        (10_000_000, "10 MB"),
        (2_500_000_000, "2.5 GB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert filetypes.human_size(size) == text


@given(st.binary(max_size=filetypes.SNIFF_BYTES))
def test_sniff_always_names_a_type(head: bytes) -> None:
    kind = filetypes.sniff(head)
    assert "/" in kind
    if kind == "text/plain":  # text is text: no NUL, valid UTF-8 (but for a cut end)
        assert b"\x00" not in head


@given(st.binary(max_size=200))
def test_a_signature_decides_whatever_follows(rest: bytes) -> None:
    assert filetypes.sniff(b"\x89PNG\r\n\x1a\n" + rest) == "image/png"
    assert filetypes.sniff(b"%PDF-" + rest) == "application/pdf"
    # Markup after an image's signature is still that image (to be decoded, and refused
    # if it does not decode): never text/html.
    assert filetypes.sniff(b"GIF89a<script>" + rest) == "image/gif"
