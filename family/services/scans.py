"""The scan of a wet-signed counter letter (issue 6, R18; issue 13 point 17): judged by its whole
content, never by its name or the browser's word, and kept as the portal rewrote it.

Checking the first bytes is not enough: HTML between `%PDF-` and `%%EOF`, or a PNG with a program
appended, would be kept as a "scan". So every file is parsed completely and written out afresh:

- a JPEG or PNG is decoded in full by Pillow, after its header is checked against `MAX_PIXELS`
  (a decompression bomb is refused before any pixel is decoded), turned upright by its EXIF
  orientation and re-encoded in its own format without metadata or anything after its end;
- a PDF is read by pypdf in strict mode (tighter decompression limits than pypdf's own), must
  not be encrypted, must have 1 to `MAX_PDF_PAGES` pages whose content streams parse, and is
  rewritten by `PdfWriter` from its pages alone: a new catalog (no /OpenAction, /AA, /Names with
  JavaScript or embedded files, /AcroForm), each page only with the keys that draw it (no
  annotations, so no link, launch or file-attachment actions; no page /AA), resources only of
  the kinds that draw; nothing after the real document survives.

What is stored, hashed and sized is the rewritten file (`Scan.data`). Image data inside a PDF
is copied, not decoded: a viewer decodes it, as it would for any PDF a bureau receives."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..images import ImageRefused, decode_bounded, jpeg_bytes, png_bytes, upright

SCAN_EMPTY = _("上传的文件是空的，请重新选择扫描件")
SCAN_TOO_LARGE = _("扫描件不能超过%(mb)s MB，请降低扫描分辨率后重新上传")
SCAN_EXECUTABLE = _("该文件是可执行程序，不是扫描件，已拒收")
SCAN_TYPE_REFUSED = _(
    "仅接受 PDF、JPEG 或 PNG 格式的扫描件；该文件的内容不是这几种格式（与文件名无关）"
)
SCAN_BROKEN = _("扫描件已损坏或不完整，请重新扫描后上传")
SCAN_TOO_MANY_PIXELS = _(
    "扫描件图像过大（超过%(mp)s百万像素），请以不高于600 dpi的分辨率重新扫描后上传"
)
SCAN_ENCRYPTED = _("该 PDF 扫描件已加密或设有密码，无法核对其内容，请上传未加密的扫描件")
SCAN_TOO_MANY_PAGES = _("扫描件不能超过%(pages)s页，请只上传签字的承诺书")

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXECUTABLE_MAGICS = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xce", b"#!")

# An A4 page scanned at 600 dpi is 4961×7016 = 34.8 megapixels (US Letter 33.7): 40 leaves room
# for a scanner's margins and still bounds the decoded picture (120 MB as RGB, 160 MB as CMYK).
MAX_PIXELS = 40_000_000
# The longest letter (eight members) prints on two or three A4 pages; 20 leaves room for copies
# of the documents seen, scanned with it, and bounds the work of parsing a 5 MB file.
MAX_PDF_PAGES = 20
# pypdf allows 75 MB per decoded stream; a page's drawing instructions are far smaller (a scanned
# page's are a few dozen bytes, a typeset one's some kilobytes), and 20 pages of them stay small.
PDF_LIMITS: dict[str, Any] = {
    name: 8_000_000
    for name in (
        "array_based_stream_maximum_output_length",
        "brotli_maximum_output_length",
        "jbig2_maximum_output_length",
        "lzw_maximum_output_length",
        "run_length_maximum_output_length",
        "zlib_maximum_output_length",
    )
} | {"stream_decoding_work_maximum_length": 32_000_000}
# What draws a page (ISO 32000-1, table 30), and the kinds of resources it draws with (table 33).
PAGE_KEYS = {
    "/Type",
    "/Parent",
    "/Resources",
    "/MediaBox",
    "/CropBox",
    "/BleedBox",
    "/TrimBox",
    "/ArtBox",
    "/Contents",
    "/Rotate",
    "/Group",
    "/UserUnit",
}
RESOURCE_KEYS = {
    "/ExtGState",
    "/ColorSpace",
    "/Pattern",
    "/Shading",
    "/XObject",
    "/Font",
    "/ProcSet",
    "/Properties",
}


@dataclass(frozen=True)
class Scan:
    """A checked scan: the bytes to keep (rewritten by the portal) and their content type."""

    data: bytes
    content_type: str


def scan_limit_bytes() -> int:
    return settings.COUNTER_SCAN_MAX_BYTES


def scan_limit_mb(limit: int | None = None) -> str:
    """The scan size limit in MB as people read it ("5")."""
    limit = settings.COUNTER_SCAN_MAX_BYTES if limit is None else limit
    return f"{limit / (1024 * 1024):g}"


def _too_large(limit: int) -> ValidationError:
    return ValidationError(
        SCAN_TOO_LARGE, code="scan_too_large", params={"mb": scan_limit_mb(limit)}
    )


def scan_read(upload, *, limit: int | None = None) -> bytes:
    """At most limit + 1 bytes of an uploaded file (enough to tell that it is too large)."""
    limit = settings.COUNTER_SCAN_MAX_BYTES if limit is None else limit
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _too_large(limit)
    buffer = io.BytesIO()
    upload.seek(0)
    for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read()]:
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise _too_large(limit)
    return buffer.getvalue()


def scan_check(data: bytes) -> Scan:
    """The scan to keep for these bytes, parsed completely and rewritten; a ValidationError for
    anything else (codes: empty, size, type, broken, encrypted, pages)."""
    if not data:
        raise ValidationError(SCAN_EMPTY, code="scan_empty")
    limit = settings.COUNTER_SCAN_MAX_BYTES
    if len(data) > limit:
        raise _too_large(limit)
    if data.startswith(PDF_MAGIC):
        return Scan(_pdf_rewritten(data), "application/pdf")
    if data.startswith(JPEG_MAGIC):
        return Scan(jpeg_bytes(_image(data, "JPEG")), "image/jpeg")
    if data.startswith(PNG_MAGIC):
        return Scan(png_bytes(_image(data, "PNG")), "image/png")
    if data.startswith(EXECUTABLE_MAGICS):
        raise ValidationError(SCAN_EXECUTABLE, code="scan_executable")
    raise ValidationError(SCAN_TYPE_REFUSED, code="scan_type_refused")


def _image(data: bytes, fmt: str):
    try:
        image = decode_bounded(data, fmt=fmt, max_pixels=MAX_PIXELS)
    except ImageRefused as exc:
        if exc.reason == "size":
            raise ValidationError(
                SCAN_TOO_MANY_PIXELS,
                code="scan_too_many_pixels",
                params={"mp": MAX_PIXELS // 1_000_000},
            ) from exc
        raise ValidationError(SCAN_BROKEN, code="scan_broken") from exc
    return upright(image)


def _pdf_rewritten(data: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter, apply_configuration

    try:
        with apply_configuration(**PDF_LIMITS):
            reader = PdfReader(io.BytesIO(data), strict=True)
            if reader.is_encrypted:
                raise ValidationError(SCAN_ENCRYPTED, code="scan_encrypted")
            pages = reader.pages
            count = len(pages)
            if count < 1:
                raise ValidationError(SCAN_BROKEN, code="scan_broken")
            if count > MAX_PDF_PAGES:
                raise ValidationError(
                    SCAN_TOO_MANY_PAGES, code="scan_too_many_pages", params={"pages": MAX_PDF_PAGES}
                )
            writer = PdfWriter()
            for page in pages:
                _keep_only_drawing(page)
                contents = page.get_contents()
                if contents is not None:
                    _ = contents.operations  # parses every instruction of the page
                writer.add_page(page)
            out = io.BytesIO()
            writer.write(out)
    except ValidationError:
        raise
    except Exception as exc:  # pypdf raises many kinds for a malformed file
        raise ValidationError(SCAN_BROKEN, code="scan_broken") from exc
    return out.getvalue()


def _keep_only_drawing(page) -> None:
    """Drop from a page (before it is copied) every key that does not draw it."""
    for key in list(page.keys()):
        if key not in PAGE_KEYS:
            del page[key]
    resources = page.get("/Resources")
    if resources is not None:
        resources = resources.get_object()
        for key in list(resources.keys()):
            if key not in RESOURCE_KEYS:
                del resources[key]
