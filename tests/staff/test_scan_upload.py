"""The scan of the wet-signed letter (issue 6, R18): judged by its content, never by its name;
size-limited; a refused file leaves nothing stored and changes nothing. Stored outside
MEDIA_ROOT under a random name and downloaded only through the scoped staff view."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEntry
from family import services
from family.models import CounterBinding

from .counter_helpers import (
    EXECUTABLE,
    SPOUSE,
    image_bytes,
    pdf_bytes,
    printed,
    stored_files,
    upload,
)

MiB = 1024 * 1024


@pytest.fixture
def binding(demo, scan_root):
    return printed(demo, "王建国", [SPOUSE])


def _attach(demo, binding, data, name, content_type="application/pdf"):
    return services.counter_binding_scan_attach(
        binding=binding, upload=upload(data, name, content_type), actor=demo.staff["js_clerk"]
    )


REFUSED = [
    pytest.param(EXECUTABLE, "signed-letter.pdf", services.SCAN_EXECUTABLE, id="renamed-exe"),
    pytest.param(b"", "empty.pdf", services.SCAN_EMPTY, id="empty"),
    pytest.param(
        "这是一段文字，不是图像".encode(),
        "letter.png",
        services.SCAN_TYPE_REFUSED,
        id="text-as-png",
    ),
    pytest.param(
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "broken.png", services.SCAN_BROKEN, id="broken-png"
    ),
    pytest.param(b"%PDF-1.7\n1 0 obj\n", "cut.pdf", services.SCAN_BROKEN, id="truncated-pdf"),
]


@pytest.mark.parametrize(("data", "name", "message"), REFUSED)
def test_a_refused_file_is_named_and_nothing_isstored_files(
    demo, binding, scan_root, data, name, message
):
    with pytest.raises(ValidationError) as caught:
        _attach(demo, binding, data, name)

    assert [str(m) for m in caught.value.messages] == [str(message)]
    binding.refresh_from_db()
    assert not binding.scan and binding.scan_sha256 == "" and binding.scan_size is None
    assert stored_files(scan_root) == []
    assert not AuditEntry.objects.filter(action="counter_binding.scan_attach").exists()


def test_an_oversized_file_is_refused(demo, binding, scan_root):
    data = pdf_bytes() + b"\n" * (5 * MiB)  # a real PDF padded past 5 MiB

    with pytest.raises(ValidationError) as caught:
        _attach(demo, binding, data, "big.pdf")

    assert caught.value.messages == ["扫描件不能超过5 MB，请降低扫描分辨率后重新上传"]
    assert stored_files(scan_root) == []


@pytest.mark.parametrize(
    ("data", "name", "content_type", "extension"),
    [
        (pdf_bytes(), "scan.pdf", "application/pdf", ".pdf"),
        (image_bytes("JPEG"), "IMG_0001.JPG", "image/jpeg", ".jpg"),
        (image_bytes("PNG"), "scan.png", "image/png", ".png"),
        # The browser's word and the name do not matter: a PNG named .pdf is kept as a PNG.
        (image_bytes("PNG"), "scan.pdf", "image/png", ".png"),
    ],
)
def test_a_valid_scan_is_kept_privately_under_a_random_name(
    demo, binding, scan_root, settings, data, name, content_type, extension
):
    binding = _attach(demo, binding, data, name)

    assert binding.scan_content_type == content_type
    stored = stored_files(scan_root)
    assert len(stored) == 1 and stored[0].endswith(extension)
    # What is kept is the rewritten file (issue 13); its size and hash are the kept bytes'.
    kept = Path(stored[0]).read_bytes()
    assert binding.scan_size == len(kept)
    assert binding.scan_sha256 == hashlib.sha256(kept).hexdigest()
    relative = os.path.relpath(stored[0], scan_root)
    assert re.fullmatch(r"\d{4}/\d{2}/[0-9a-f]{32}" + re.escape(extension), relative)
    assert not stored[0].startswith(str(settings.MEDIA_ROOT))
    assert oct(os.stat(stored[0]).st_mode & 0o777) == oct(0o600)
    with pytest.raises(ValueError):
        binding.scan.url  # noqa: B018 (never served by URL)
    entry = AuditEntry.objects.get(action="counter_binding.scan_attach")
    assert entry.channel == AuditEntry.Channel.COUNTER and entry.after["scan_sha256"]


def test_a_new_scan_replaces_the_old_file(
    demo, binding, scan_root, django_capture_on_commit_callbacks
):
    binding = _attach(demo, binding, pdf_bytes(), "first.pdf")
    first = stored_files(scan_root)
    with django_capture_on_commit_callbacks(execute=True):
        binding = _attach(demo, binding, image_bytes("PNG"), "second.png")
    now = stored_files(scan_root)
    assert len(now) == 1 and now != first


def test_a_scan_before_printing_is_refused(demo, scan_root):
    clerk = demo.staff["js_clerk"]
    draft = services.counter_binding_start(holder=demo["王建国"], actor=clerk)
    with pytest.raises(ValidationError) as caught:
        _attach(demo, draft, pdf_bytes(), "scan.pdf")
    assert caught.value.messages == [str(services.NOT_PRINTED)]
    assert stored_files(scan_root) == []


# ---------------------------------------------------------------------------------------------
# through the page


def _post(client, binding, data, name, content_type="application/pdf"):
    url = reverse("staff:binding-upload", kwargs={"public_id": binding.public_id})
    return client.post(url, {"scan": upload(data, name, content_type)})


@pytest.mark.parametrize(("data", "name", "message"), REFUSED[:3])
def test_the_page_shows_why_a_file_is_refused(
    client, demo, binding, scan_root, data, name, message
):
    client.force_login(demo.staff["js_clerk"])
    response = _post(client, binding, data, name)
    assert response.status_code == 200
    assert str(message) in response.content.decode()
    assert stored_files(scan_root) == []


def test_a_control_character_beside_the_scan_is_refused_and_nothing_kept(
    client, demo, binding, scan_root
):
    """The upload view reads its own body (its size limit first), so it makes the check the
    middleware makes for every other page (accounts.middleware.reads_its_own_body)."""
    client.force_login(demo.staff["js_clerk"])
    url = reverse("staff:binding-upload", kwargs={"public_id": binding.public_id})
    response = client.post(url, {"scan": upload(pdf_bytes()), "note": "a\x00b"})
    assert response.status_code == 400
    assert stored_files(scan_root) == []


def test_the_page_stops_reading_an_oversized_upload(client, demo, binding, scan_root, settings):
    settings.COUNTER_SCAN_MAX_BYTES = 64 * 1024
    client.force_login(demo.staff["js_clerk"])
    response = _post(client, binding, pdf_bytes() + b"\n" * (200 * 1024), "big.pdf")
    assert response.status_code == 200
    assert "扫描件不能超过0.0625 MB" in response.content.decode()
    binding.refresh_from_db()
    assert not binding.scan and stored_files(scan_root) == []


def test_the_upload_checks_csrf(demo, binding, scan_root):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.staff["js_clerk"])
    response = _post(client, binding, pdf_bytes(), "scan.pdf")
    assert response.status_code == 403
    assert stored_files(scan_root) == []


def test_the_scan_downloads_as_an_attachment_never_sniffed(client, demo, binding, scan_root):
    client.force_login(demo.staff["js_clerk"])
    assert _post(client, binding, pdf_bytes(), "scan.pdf").status_code == 302
    url = reverse("staff:binding-scan", kwargs={"public_id": binding.public_id})

    response = client.get(url)

    assert response.status_code == 200
    binding.refresh_from_db()
    with binding.scan.open("rb") as kept:
        assert b"".join(response.streaming_content) == kept.read()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="counter-binding-{binding.public_id}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    client.force_login(demo.staff["xj_clerk"])
    assert client.get(url).status_code == 404


def test_no_scan_no_download(client, demo, binding):
    client.force_login(demo.staff["js_clerk"])
    url = reverse("staff:binding-scan", kwargs={"public_id": binding.public_id})
    assert client.get(url).status_code == 404
    assert CounterBinding.objects.get(pk=binding.pk).scan.name == ""
