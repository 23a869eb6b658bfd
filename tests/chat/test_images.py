"""Images made anew (chat/images.py), in every mode and kind a camera, an editor or an
attacker sends."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from chat import images

BOX = 100


def encoded(image: Image.Image, fmt: str, **options: object) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    out.seek(0)
    return out


def remake(data: io.BytesIO, kind: str, max_pixels: int = 10_000_000) -> images.Made:
    return images.remake(data, kind=kind, max_pixels=max_pixels, thumb_box=BOX)


@pytest.mark.parametrize(
    ("mode", "fmt", "kind"),
    [
        ("RGB", "JPEG", "image/jpeg"),
        ("L", "JPEG", "image/jpeg"),
        ("CMYK", "JPEG", "image/jpeg"),
        ("RGBA", "PNG", "image/png"),
        ("P", "PNG", "image/png"),
        ("LA", "PNG", "image/png"),
        ("I;16", "PNG", "image/png"),
        ("1", "PNG", "image/png"),
        ("RGBA", "WEBP", "image/webp"),
        ("P", "GIF", "image/gif"),
    ],
)
def test_every_mode_is_remade_with_a_thumbnail(mode: str, fmt: str, kind: str) -> None:
    made = remake(encoded(Image.new(mode, (300, 150)), fmt), kind)
    assert (made.width, made.height) == (300, 150)
    assert Image.open(io.BytesIO(made.data)).format == fmt
    thumb = Image.open(io.BytesIO(made.thumbnail))
    assert thumb.format == "WEBP"
    assert thumb.size == (made.thumb_width, made.thumb_height) == (100, 50)


def test_a_small_image_keeps_its_size_as_thumbnail() -> None:
    made = remake(encoded(Image.new("RGB", (20, 10)), "PNG"), "image/png")
    assert (made.thumb_width, made.thumb_height) == (20, 10)


def test_transparency_survives_in_the_thumbnail() -> None:
    made = remake(encoded(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "PNG"), "image/png")
    assert Image.open(io.BytesIO(made.thumbnail)).mode == "RGBA"


@pytest.mark.parametrize(("fmt", "kind"), [("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_animations_stay_animated_and_count_every_frame(fmt: str, kind: str) -> None:
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "green", "blue")]
    data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    made = remake(data, kind)
    assert getattr(Image.open(io.BytesIO(made.data)), "n_frames", 1) == 3
    data.seek(0)
    with pytest.raises(images.ImageRefusedError, match="too large"):
        remake(data, kind, max_pixels=40 * 40 * 2)  # one frame fits, three do not


def test_a_format_other_than_its_signature_is_refused() -> None:
    # The bytes say PNG; the caller was told JPEG (the sniffer and Pillow must agree).
    with pytest.raises(images.ImageRefusedError, match="could not be read"):
        remake(encoded(Image.new("RGB", (5, 5)), "PNG"), "image/jpeg")
