"""The whole scan is read, and kept as the portal rewrote it (issue 13, point 17).

Checking the first bytes kept HTML between `%PDF-` and `%%EOF`, and a PNG with a program after
it, as scans. Through `counter_binding_scan_attach` on PostgreSQL (a refusal stores no file and
changes no row), the upload page, and `scan_check` alone under hypothesis."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from accounts.models import AuditEntry
from family import services
from tests.bombs import bomb_png
from tests.memory import peak_growth_mib

from .counter_helpers import (
    EXECUTABLE,
    SPOUSE,
    active_pdf,
    image_bytes,
    pdf_bytes,
    pdf_with_pages,
    printed,
    stored_files,
    upload,
)

HTML_AS_PDF = (
    b"%PDF-1.7\n<html><body><h1>\xe6\x89\xbf\xe8\xaf\xba\xe4\xb9\xa6</h1>"
    b"<script>fetch('/staff/').then(r => r.text())</script></body></html>\n%%EOF\n"
)
JUNK = b"<html><script>alert(document.cookie)</script></html>" + EXECUTABLE
ACTIVE = (b"/JavaScript", b"/JS", b"/OpenAction", b"/AA", b"/Launch", b"/EmbeddedFile", b"/Annots")


@pytest.fixture
def binding(demo, scan_root):
    return printed(demo, "王建国", [SPOUSE])


def _attach(demo, binding, data, name="scan.pdf", content_type="application/pdf"):
    return services.counter_binding_scan_attach(
        binding=binding, upload=upload(data, name, content_type), actor=demo.staff["js_clerk"]
    )


def _kept(scan_root) -> bytes:
    files = stored_files(scan_root)
    assert len(files) == 1
    return Path(files[0]).read_bytes()


def _refused(demo, binding, scan_root, data, name="scan.pdf") -> list[str]:
    with pytest.raises(ValidationError) as caught:
        _attach(demo, binding, data, name)
    binding.refresh_from_db()
    assert not binding.scan and binding.scan_sha256 == "" and binding.scan_size is None
    assert binding.status == binding.Status.LETTER_PRINTED
    assert stored_files(scan_root) == []
    assert not AuditEntry.objects.filter(action="counter_binding.scan_attach").exists()
    return caught.value.messages


# ---------------------------------------------------------------------------------------------
# refused


def test_html_wrapped_in_pdf_markers_is_refused(demo, binding, scan_root):
    assert _refused(demo, binding, scan_root, HTML_AS_PDF) == [str(services.SCAN_BROKEN)]


def test_an_encrypted_pdf_is_refused_with_its_own_message(demo, binding, scan_root):
    data = pdf_with_pages(1, user_password="", owner_password="secret", algorithm="RC4-128")
    assert _refused(demo, binding, scan_root, data) == [str(services.SCAN_ENCRYPTED)]


def test_a_pdf_without_pages_or_with_too_many_is_refused(demo, binding, scan_root):
    assert _refused(demo, binding, scan_root, pdf_with_pages(0)) == [str(services.SCAN_BROKEN)]
    assert _refused(demo, binding, scan_root, pdf_with_pages(21)) == [
        str(services.SCAN_TOO_MANY_PAGES) % {"pages": 20}
    ]
    _attach(demo, binding, pdf_with_pages(20))
    assert len(PdfReader(io.BytesIO(_kept(scan_root)), strict=True).pages) == 20


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_image_is_refused(demo, binding, scan_root, pillow_lenient, fmt):
    buffer = io.BytesIO()
    Image.effect_noise((600, 400), 60).convert("RGB").save(buffer, format=fmt)
    data = buffer.getvalue()
    assert _refused(demo, binding, scan_root, data[: len(data) // 2], "IMG_0002.jpg") == [
        str(services.SCAN_BROKEN)
    ]


def test_a_truncated_pdf_is_refused(demo, binding, scan_root):
    data = pdf_bytes()
    assert _refused(demo, binding, scan_root, data[: len(data) - 200]) == [
        str(services.SCAN_BROKEN)
    ]


@pytest.mark.parametrize(
    "size",
    [(7000, 7000), (20000, 20000)],  # 49 MP (this bound), 400 MP (also Pillow's own)
    ids=["over-the-bound", "pillow-bomb"],
)
def test_a_pixel_bomb_is_refused_before_it_is_decoded(demo, binding, scan_root, size):
    data = bomb_png(*size)
    assert len(data) < 100_000  # kilobytes as sent
    refused = []

    growth = peak_growth_mib(lambda: refused.extend(_refused(demo, binding, scan_root, data)))

    assert refused == [str(services.SCAN_TOO_MANY_PIXELS) % {"mp": 40}]
    assert growth < 40  # decoded, 7000×7000 alone would take 49 MB (one byte a pixel)


def test_an_a4_page_at_600_dpi_is_within_the_bound(demo, binding, scan_root):
    binding = _attach(demo, binding, bomb_png(4961, 7016), "a4-600dpi.png", "image/png")
    with Image.open(io.BytesIO(_kept(scan_root))) as image:
        assert image.size == (4961, 7016) and binding.scan_content_type == "image/png"


# ---------------------------------------------------------------------------------------------
# kept, rewritten


def test_a_png_with_a_program_appended_is_kept_without_it(demo, binding, scan_root):
    scan = image_bytes("PNG", size=(400, 300))
    binding = _attach(demo, binding, scan + EXECUTABLE, "scan.png", "image/png")

    kept = _kept(scan_root)
    assert b"MZ\x90" not in kept and b"PE\x00\x00" not in kept
    assert kept.endswith(b"IEND\xaeB`\x82")
    assert binding.scan_size == len(kept) and binding.scan_content_type == "image/png"
    with Image.open(io.BytesIO(kept)) as image, Image.open(io.BytesIO(scan)) as original:
        assert image.tobytes() == original.tobytes()


def test_a_jpeg_is_kept_upright_without_its_metadata_or_trailing_bytes(demo, binding, scan_root):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned (rotate 90° clockwise to view)
    exif[0x010F] = "EvilCam <script>"  # Make
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (240, 240, 230)).save(
        buffer, format="JPEG", exif=exif, comment=b"<?php system($_GET['c']); ?>"
    )
    binding = _attach(demo, binding, buffer.getvalue() + JUNK, "IMG_0003.JPG", "image/jpeg")

    kept = _kept(scan_root)
    assert binding.scan_content_type == "image/jpeg"
    assert b"Exif" not in kept and b"EvilCam" not in kept and b"php" not in kept
    assert JUNK not in kept and kept.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(kept)) as image:
        assert image.size == (200, 300)  # turned upright
        assert "comment" not in image.info and not image.getexif()


def test_a_pdf_with_javascript_and_actions_is_kept_without_them(demo, binding, scan_root):
    data = active_pdf()
    assert all(marker in data for marker in ACTIVE)

    binding = _attach(demo, binding, data)

    kept = _kept(scan_root)
    for marker in ACTIVE:
        assert marker not in kept, marker
    assert EXECUTABLE not in kept
    reader = PdfReader(io.BytesIO(kept), strict=True)
    assert len(reader.pages) == 1
    assert set(reader.trailer["/Root"].keys()) == {"/Type", "/Pages"}
    assert binding.scan_size == len(kept)


def test_a_pdf_with_junk_after_its_end_is_kept_without_it(demo, binding, scan_root):
    _attach(demo, binding, pdf_bytes() + b"\n" + JUNK)

    kept = _kept(scan_root)
    assert b"<html>" not in kept and b"MZ\x90" not in kept
    assert kept.rstrip().endswith(b"%%EOF")
    assert len(PdfReader(io.BytesIO(kept), strict=True).pages) == 1


# ---------------------------------------------------------------------------------------------
# through the page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (HTML_AS_PDF, services.SCAN_BROKEN),
        (pdf_with_pages(1, user_password="pw", algorithm="RC4-128"), services.SCAN_ENCRYPTED),
        (bomb_png(7000, 7000), services.SCAN_TOO_MANY_PIXELS % {"mp": 40}),
    ],
    ids=["html", "encrypted", "pixel-bomb"],
)
def test_the_page_says_why_and_keeps_nothing(client, demo, binding, scan_root, data, message):
    client.force_login(demo.staff["js_clerk"])
    url = reverse("staff:binding-upload", kwargs={"public_id": binding.public_id})

    response = client.post(url, {"scan": upload(data, "签字件.pdf", "application/pdf")})

    assert response.status_code == 200
    assert str(message) in response.content.decode()
    assert response.context["scan_form"].errors["scan"] == [str(message)]
    binding.refresh_from_db()
    assert not binding.scan and stored_files(scan_root) == []


# ---------------------------------------------------------------------------------------------
# any bytes: a ValidationError or a scan that parses again, cleanly


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 48), 40).convert("RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


SEEDS = [pdf_bytes(), active_pdf(), image_bytes("PNG", size=(64, 48)), _jpeg()]


@st.composite
def uploads(draw) -> bytes:
    kind = draw(st.sampled_from(["random", "seed", "flip", "cut", "splice", "magic"]))
    if kind == "random":
        return draw(st.binary(max_size=2048))
    if kind == "magic":  # a known start, then anything
        start = draw(st.sampled_from([b"%PDF-1.7\n", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]))
        return start + draw(st.binary(max_size=2048))
    data = draw(st.sampled_from(SEEDS))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    elif kind == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=256)) + data[at:]
    return data


def _reparses(scan: services.Scan) -> None:
    if scan.content_type == "application/pdf":
        reader = PdfReader(io.BytesIO(scan.data), strict=True)
        assert 1 <= len(reader.pages) <= services.MAX_PDF_PAGES
        assert set(reader.trailer["/Root"].keys()) <= {"/Type", "/Pages"}
        for page in reader.pages:
            assert "/AA" not in page and "/Annots" not in page
    else:
        fmt = {"image/png": "PNG", "image/jpeg": "JPEG"}[scan.content_type]
        with Image.open(io.BytesIO(scan.data), formats=[fmt]) as image:
            image.load()
    assert services.scan_check(scan.data).content_type == scan.content_type


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uploads())
def test_any_bytes_are_refused_or_kept_as_a_file_that_parses_again(data):
    try:
        scan = services.scan_check(data)
    except ValidationError as exc:
        assert exc.code in {
            "scan_empty",
            "scan_too_large",
            "scan_too_many_pixels",
            "scan_executable",
            "scan_type_refused",
            "scan_broken",
            "scan_encrypted",
            "scan_too_many_pages",
        }
        return
    _reparses(scan)
