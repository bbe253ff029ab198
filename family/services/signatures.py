"""The drawn signature of a commitment letter (R7; issue 13): a PNG data URL from the signing page
(static/js/signature-pad.js), checked and re-encoded before it is kept.

The pad always exports 480×160 pixels. Its canvas is at most 480×160 CSS pixels (portal.css,
max-width 30rem, 3:1), so even a pad that exported its backing store on a screen of
devicePixelRatio 3 would send 1440×480. The bound below leaves room beyond both, and keeps the
decoded picture at 2 megapixels (8 MB as RGBA): a 9000×9000 "signature" in a 28 KB data URL
(324 MB decoded, 4 s and 660 MB to print) is refused from its header, before any pixel is decoded.
What is kept is Pillow's fresh PNG of the pixels, never the bytes as sent."""

from __future__ import annotations

import base64
import binascii
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..images import ImageRefused, decode_bounded, png_bytes

# R7
SIGNATURE_IMAGE_INVALID = _("手写签名图像无效或过大，请重新签写")
SIGNATURE_IMAGE_TOO_LARGE = _(
    "手写签名图像的尺寸过大（不得超过%(width)s×%(height)s像素），请清除后重新签写"
)

MAX_SIGNATURE_BYTES = 200_000  # of the data URL, as sent and as kept
MAX_SIGNATURE_WIDTH = 2000
MAX_SIGNATURE_HEIGHT = 1000
PNG_DATA_URL = "data:image/png;base64,"
_SIGNATURE_RE = re.compile(r"^data:image/png;base64,[A-Za-z0-9+/]+={0,2}$")


def _decoded(image: str) -> bytes:
    if len(image) > MAX_SIGNATURE_BYTES or not _SIGNATURE_RE.match(image):
        raise ValidationError(SIGNATURE_IMAGE_INVALID, code="signature_image_invalid")
    try:
        return base64.b64decode(image[len(PNG_DATA_URL) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(SIGNATURE_IMAGE_INVALID, code="signature_image_invalid") from exc


def signature_image_clean(image: str) -> str:
    """The data URL to keep for a drawn signature ("" for none): the same pixels, re-encoded.
    A ValidationError (code R7) for anything that is not a complete PNG within the bound."""
    if not image:
        return ""
    data = _decoded(image)
    try:
        picture = decode_bounded(
            data,
            fmt="PNG",
            max_pixels=MAX_SIGNATURE_WIDTH * MAX_SIGNATURE_HEIGHT,
            max_width=MAX_SIGNATURE_WIDTH,
            max_height=MAX_SIGNATURE_HEIGHT,
        )
    except ImageRefused as exc:
        if exc.reason == "size":
            raise ValidationError(
                SIGNATURE_IMAGE_TOO_LARGE,
                code="signature_image_too_large",
                params={"width": MAX_SIGNATURE_WIDTH, "height": MAX_SIGNATURE_HEIGHT},
            ) from exc
        raise ValidationError(SIGNATURE_IMAGE_INVALID, code="signature_image_invalid") from exc
    with picture:
        clean = PNG_DATA_URL + base64.b64encode(png_bytes(picture)).decode("ascii")
    if len(clean) > MAX_SIGNATURE_BYTES:  # noise that compresses worse than it was sent
        raise ValidationError(SIGNATURE_IMAGE_INVALID, code="signature_image_invalid")
    return clean


def signature_image_shown(image: str) -> str:
    """The stored signature for a page or a PDF, or "" when it is beyond the bound: letters
    signed before the check was in place (the letter is immutable) are printed without it rather
    than decoding a bomb. Reads the PNG header only."""
    if not image:
        return ""
    try:
        data = _decoded(image)
    except ValidationError:
        return ""
    # IHDR is the first chunk: width and height are big-endian at bytes 16–24.
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return ""
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not (0 < width <= MAX_SIGNATURE_WIDTH and 0 < height <= MAX_SIGNATURE_HEIGHT):
        return ""
    return image
