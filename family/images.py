"""Images from outside (issue 13): decoded under a bound, then re-encoded.

A PNG or JPEG of a few kilobytes can declare a picture of billions of pixels (a decompression
bomb), and a file that starts like an image can carry anything after it. So an image is opened
lazily (Pillow reads the header only), refused when its declared size is over the caller's bound,
then decoded completely (a truncated or corrupt file is refused) and written out afresh by Pillow:
what is kept is the pixels, never the bytes as sent (no metadata chunks, no trailing data).

Callers turn `ImageRefused` into their own message (the drawn signature, the counter scan).

WeasyPrint, once imported, sets Pillow's process-wide `ImageFile.LOAD_TRUNCATED_IMAGES` so that
it prints what it can of a broken picture; a file from outside must be complete, so opening and
decoding here run with that flag off, under a lock (the flag is global)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageFile, ImageOps

# Modes each format writes as they are; anything else is converted first.
PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}
JPEG_MODES = {"L", "RGB", "CMYK"}
JPEG_QUALITY = 90


_STRICT = threading.Lock()


@contextmanager
def _strict_loading() -> Iterator[None]:
    """Pillow refuses a truncated file (and a bad checksum) while this runs, whatever the
    process set."""
    with _STRICT:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


class ImageRefused(Exception):
    """`reason`: "size" (over the bound; nothing was decoded) or "broken" (not a complete,
    decodable image of the expected format)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def decode_bounded(
    data: bytes,
    *,
    fmt: str,
    max_pixels: int,
    max_width: int | None = None,
    max_height: int | None = None,
) -> Image.Image:
    """The fully decoded image of `data`, which must be a `fmt` ("PNG", "JPEG") image within the
    bounds. The bounds are checked on the header, before any pixel is decoded."""
    with _strict_loading():
        return _decode(data, fmt, max_pixels, max_width, max_height)


def _decode(
    data: bytes, fmt: str, max_pixels: int, max_width: int | None, max_height: int | None
) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as exc:  # Pillow's own, far higher, bound
        raise ImageRefused("size") from exc
    except Exception as exc:  # Pillow raises many kinds for a file it cannot read
        raise ImageRefused("broken") from exc
    width, height = image.size
    if (
        width < 1
        or height < 1
        or width * height > max_pixels
        or (max_width is not None and width > max_width)
        or (max_height is not None and height > max_height)
    ):
        image.close()
        raise ImageRefused("size")
    try:
        image.load()  # every pixel: a truncated or corrupt file raises here
    except Exception as exc:
        image.close()
        raise ImageRefused("broken") from exc
    return image


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (a phone's photo of a page); unchanged when
    it has none or the EXIF cannot be read (orientation is a courtesy, not a reason to refuse)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image


def _pixels_only(image: Image.Image, modes: set[str], *, keep_alpha: bool) -> Image.Image:
    """The image in a mode the format writes, with what was read beside the pixels forgotten:
    Pillow's writers copy some of `info` (an ICC profile, a JPEG comment) into the new file."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA" if keep_alpha else "RGB")
    elif image.mode not in modes:
        alpha = keep_alpha and ("A" in image.mode or "transparency" in image.info)
        image = image.convert("RGBA" if alpha else "RGB")
    image.info = {}
    return image


def png_bytes(image: Image.Image) -> bytes:
    """A fresh PNG of the pixels: no text, time, EXIF or ICC chunks, nothing after IEND."""
    buffer = io.BytesIO()
    _pixels_only(image, PNG_MODES, keep_alpha=True).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image) -> bytes:
    """A fresh JPEG of the pixels at a good quality: no EXIF, ICC, comments or trailing data."""
    buffer = io.BytesIO()
    _pixels_only(image, JPEG_MODES, keep_alpha=False).save(
        buffer, format="JPEG", quality=JPEG_QUALITY
    )
    return buffer.getvalue()
