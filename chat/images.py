"""Uploaded images, decoded and made anew with Pillow (no Django here).

What is stored is never the bytes that were sent: each image is checked (its header's
format against the type its first bytes said, ``verify``, its pixel count before
anything is decoded), opened again, turned upright by its EXIF orientation, and
encoded anew without its metadata, so GPS positions, a camera's serial number and
anything hidden after the image's end (a polyglot's other half) are gone. A small
thumbnail is made beside it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO, Any

from PIL import Image, ImageOps

# Pillow's format name of each inline type (chat.filetypes.INLINE_IMAGES).
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
THUMBNAIL_TYPE = "image/webp"


class ImageRefusedError(Exception):
    """An image that is not stored; the message is a sentence for the uploader."""


@dataclass(frozen=True)
class Made:
    data: bytes  # the image encoded anew
    width: int
    height: int
    thumbnail: bytes  # a WebP no larger than the thumbnail box
    thumb_width: int
    thumb_height: int


UNREADABLE = "This image could not be read. It may be damaged, or not the kind its name says."


def remake(source: IO[bytes] | Any, *, kind: str, max_pixels: int, thumb_box: int) -> Made:
    """The image in ``source`` (of ``kind``, one of ``FORMATS``), checked and encoded
    anew, with its thumbnail. Raises ``ImageRefusedError``."""
    fmt = FORMATS[kind]
    with warnings.catch_warnings():
        # Pillow's own bomb guard (MAX_IMAGE_PIXELS) warns, then refuses at twice it;
        # the site's own limit, checked from the header below, is the one that words it.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _remake(source, fmt=fmt, max_pixels=max_pixels, thumb_box=thumb_box)
        except ImageRefusedError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRefusedError(_too_many(max_pixels)) from None
        except Exception:  # Pillow raises many kinds on a broken file
            raise ImageRefusedError(UNREADABLE) from None


def _too_many(max_pixels: int) -> str:
    return (
        f"This image is too large to show: at most {max_pixels / 1e6:g} million pixels are allowed."
    )


def _open(source: IO[bytes] | Any, fmt: str, max_pixels: int) -> Image.Image:
    source.seek(0)
    image = Image.open(source, formats=[fmt])  # reads the header only
    width, height = image.size
    frames = getattr(image, "n_frames", 1)
    if width < 1 or height < 1:
        raise ImageRefusedError(UNREADABLE)
    # Every frame of an animation is decoded to make it anew.
    if width * height * frames > max_pixels:
        raise ImageRefusedError(_too_many(max_pixels))
    return image


def _remake(source: IO[bytes] | Any, *, fmt: str, max_pixels: int, thumb_box: int) -> Made:
    with _open(source, fmt, max_pixels) as checked:
        checked.verify()  # the file's structure and checksums, without decoding it all
    with _open(source, fmt, max_pixels) as image:
        image.load()
        animated = getattr(image, "n_frames", 1) > 1
        icc = image.info.get("icc_profile")
        out = io.BytesIO()
        if animated:
            # Every frame decoded and written again: what was hidden between them goes.
            extra = {"loop": image.info.get("loop", 0), "duration": image.info.get("duration")}
            if fmt == "WEBP":
                extra["quality"] = 90
            image.save(out, format=fmt, save_all=True, **{k: v for k, v in extra.items() if v})
            image.seek(0)
            still = image.convert("RGBA")  # the first frame, for the thumbnail
        else:
            upright = ImageOps.exif_transpose(image)
            still = upright
            options: dict[str, object] = {}
            if icc:
                options["icc_profile"] = icc
            if fmt == "JPEG":
                if upright.mode not in {"RGB", "L", "CMYK"}:
                    upright = upright.convert("RGB")
                options.update(quality=90, optimize=True)
            elif fmt == "WEBP":
                options.update(quality=90)
            upright.save(out, format=fmt, **options)
        width, height = still.size
        thumb = _thumbnail(still, thumb_box)
    return Made(out.getvalue(), width, height, thumb[0], thumb[1], thumb[2])


def _thumbnail(image: Image.Image, box: int) -> tuple[bytes, int, int]:
    small = image.copy()
    if small.mode not in {"RGB", "RGBA"}:
        has_alpha = small.mode in {"LA", "PA"} or "transparency" in small.info
        small = small.convert("RGBA" if has_alpha else "RGB")
    small.thumbnail((box, box), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=80)
    return out.getvalue(), small.width, small.height
