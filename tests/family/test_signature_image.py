"""The drawn signature of a commitment letter (R7; issue 13, point 8): a bounded, complete PNG,
kept re-encoded, never the bytes as sent.

A 9000×9000 PNG fits in a 28 KB data URL and took 4.2 s and 660 MB to print. Through the real
services on PostgreSQL (the demo cast of tests/conftest.py); the pure check
(`signature_image_clean`) also under hypothesis."""

from __future__ import annotations

import base64
import io
import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from accounts.models import AuditEntry
from family import letter_print, services
from family.models import Authorization, CommitmentLetter, Relationship
from tests.clock import NOW
from tests.family.builders import ONLINE, actions_since, audit_mark, messages, req
from tests.family.letter_helpers import bomb_url, png_data_url, signature_png
from tests.memory import peak_growth_mib

PREFIX = "data:image/png;base64,"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xffPE\x00\x00this is not a signature"


def _url(data: bytes) -> str:
    return PREFIX + base64.b64encode(data).decode()


def _bytes(url: str) -> bytes:
    assert url.startswith(PREFIX)
    return base64.b64decode(url[len(PREFIX) :], validate=True)


def _png(size=(480, 160), mode="RGBA", **save) -> bytes:
    return _bytes(png_data_url(size, mode, **save))


def _sign(demo_unbound, image: str) -> CommitmentLetter:
    return services.relationship_bind(
        holder=demo_unbound["王建国"],
        members=[req(demo_unbound["王小明"])],
        signature=services.Signature(name="王建国", image=image),
        actor=demo_unbound["王建国"].user,
        channel=ONLINE,
        at=NOW,
    )


def _refused(demo_unbound, image: str) -> list[str]:
    mark = audit_mark()
    with pytest.raises(ValidationError) as caught:
        _sign(demo_unbound, image)
    # Nothing is signed or bound, nothing audited.
    assert not Relationship.objects.exists()
    assert not Authorization.objects.exists()
    assert not CommitmentLetter.objects.exists()
    assert actions_since(mark) == []
    return caught.value.messages


def _iend_is_last(png: bytes) -> bool:
    return png.endswith(b"IEND\xaeB`\x82")


def _chunks(png: bytes) -> list[bytes]:
    names, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        names.append(png[at + 4 : at + 8])
        at += 12 + length
    return names


# ---------------------------------------------------------------------------------------------
# refused


def test_a_decompression_bomb_is_refused_before_it_is_decoded(demo_unbound):  # R7
    url = bomb_url()
    assert len(url) < 30_000  # well under the data URL limit: only the header tells
    refused = []

    growth = peak_growth_mib(lambda: refused.extend(_refused(demo_unbound, url)))

    assert refused == messages(services.SIGNATURE_IMAGE_TOO_LARGE, width=2000, height=1000)
    assert growth < 40  # decoding would take 81 MB at one byte a pixel, 324 MB as RGBA


@pytest.mark.parametrize(
    ("size", "refused"),
    [((2000, 1000), False), ((2001, 10), True), ((10, 1001), True), ((1440, 480), False)],
)
def test_the_bound_is_on_width_and_height(size, refused):
    url = _url(_png(size, mode="1"))
    if refused:
        with pytest.raises(ValidationError):
            services.signature_image_clean(url)
    else:
        assert services.signature_image_clean(url).startswith(PREFIX)


def test_a_truncated_png_is_refused(demo_unbound, pillow_lenient):  # R7
    data = _bytes(signature_png())
    assert _refused(demo_unbound, _url(data[: len(data) * 2 // 3])) == messages(
        services.SIGNATURE_IMAGE_INVALID
    )


def test_a_corrupt_png_is_refused(demo_unbound, pillow_lenient):  # R7
    data = bytearray(_bytes(signature_png()))
    idat = data.index(b"IDAT")
    data[idat + 20 : idat + 60] = b"\x00" * 40  # inside the compressed pixels
    assert _refused(demo_unbound, _url(bytes(data))) == messages(services.SIGNATURE_IMAGE_INVALID)


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "BMP"])
def test_another_format_behind_a_png_data_url_is_refused(demo_unbound, fmt):  # R7
    buffer = io.BytesIO()
    Image.new("RGB", (48, 16), (255, 255, 255)).save(buffer, format=fmt)
    assert _refused(demo_unbound, _url(buffer.getvalue())) == messages(
        services.SIGNATURE_IMAGE_INVALID
    )


@pytest.mark.parametrize(
    "image",
    [
        "data:image/svg+xml;base64,PHN2Zz4=",
        PREFIX + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(),  # the signature bytes alone
        PREFIX + base64.b64encode(EXE).decode(),
        PREFIX + "iVBORw0KGgo",  # bad base64 padding
        PREFIX + "A" * 200_000,  # over the data URL limit
    ],
    ids=["svg", "magic-only", "executable", "padding", "too-long"],
)
def test_what_is_not_a_png_data_url_is_refused(demo_unbound, image):  # R7
    assert _refused(demo_unbound, image) == messages(services.SIGNATURE_IMAGE_INVALID)


# ---------------------------------------------------------------------------------------------
# kept, re-encoded


def test_a_png_with_trailing_bytes_is_kept_without_them(demo_unbound):  # R7
    drawn = _bytes(signature_png())
    letter = _sign(demo_unbound, _url(drawn + EXE))

    kept = _bytes(letter.signature_image)
    assert EXE not in kept and b"MZ" not in kept[-len(EXE) :]
    assert _iend_is_last(kept)
    with Image.open(io.BytesIO(kept)) as image, Image.open(io.BytesIO(drawn)) as original:
        assert image.size == original.size == (360, 120)
        assert image.convert("RGBA").tobytes() == original.convert("RGBA").tobytes()


def test_metadata_chunks_are_not_kept(demo_unbound):  # R7
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    info.add_itxt("XML:com.adobe.xmp", "x" * 1000, zip=True)
    drawn = _png(pnginfo=info, icc_profile=b"\x00" * 200, exif=b"Exif\x00\x00MM\x00*")
    assert b"tEXt" in drawn and b"iCCP" in drawn

    kept = _bytes(_sign(demo_unbound, _url(drawn)).signature_image)

    assert set(_chunks(kept)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    assert b"script" not in kept


def test_a_normal_signature_is_accepted_and_printed(client, demo_unbound):  # R7
    drawn = signature_png()
    letter = _sign(demo_unbound, drawn)

    kept = _bytes(letter.signature_image)
    with Image.open(io.BytesIO(kept)) as image:
        image.load()
        assert image.format == "PNG" and image.size == (360, 120)
    assert letter.signature_image == services.signature_image_clean(drawn)  # same pixels
    html = letter_print.letter_html(letter, pdf=True)
    assert f'src="{letter.signature_image}"' in html
    pdf = letter_print.letter_pdf(letter)
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf
    client.force_login(demo_unbound["王建国"].user)
    page = client.get(reverse("family:letter-detail", args=[letter.public_id])).content.decode()
    assert f'src="{letter.signature_image}"' in page


def test_a_letter_kept_with_a_bomb_before_the_check_prints_without_it(client, demo_unbound):
    """Letters are immutable: one signed before this check keeps its image, but no page, PDF or
    admin view decodes it (the header alone decides)."""
    signed = _sign(demo_unbound, "")
    legacy = CommitmentLetter.objects.create(  # what no service writes any more
        kind=signed.kind,
        purpose=signed.purpose,
        template_version=signed.template_version,
        text=signed.text,
        content_hash=signed.content_hash,
        holder=signed.holder,
        relationship=signed.relationship,
        signed_at=signed.signed_at,
        channel=signed.channel,
        signed_name=signed.signed_name,
        signature_image=bomb_url(),
        signed_by=signed.signed_by,
    )
    html = letter_print.letter_html(legacy, pdf=True)
    started = time.monotonic()
    growth = peak_growth_mib(lambda: letter_print.letter_pdf(legacy))
    assert time.monotonic() - started < 3 and growth < 200  # it took 4.2 s and 660 MB
    assert legacy.signature_image not in html
    assert "手写签名图像超出允许的尺寸，未予显示" in html
    client.force_login(demo_unbound["王建国"].user)
    page = client.get(reverse("family:letter-detail", args=[legacy.public_id])).content.decode()
    assert legacy.signature_image not in page
    assert "手写签名图像超出允许的尺寸，未予显示" in page
    assert AuditEntry.objects.filter(action="letter.sign").count() == 1


# ---------------------------------------------------------------------------------------------
# any data URL: a ValidationError or a clean PNG, nothing else


def _mutated(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["flip", "cut", "append", "splice"]))
    if kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if kind == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=64))
    at = draw(st.integers(8, len(data)))
    return data[:at] + draw(st.binary(max_size=64)) + data[at:]


@st.composite
def data_urls(draw) -> str:
    kind = draw(st.sampled_from(["random", "sized", "mutated", "text"]))
    if kind == "random":
        return _url(draw(st.binary(max_size=512)))
    if kind == "text":
        return draw(st.text(max_size=80))
    size = (draw(st.integers(1, 2600)), draw(st.integers(1, 1300)))
    mode = draw(st.sampled_from(["1", "L", "P", "RGB", "RGBA", "I;16"]))
    data = _png(size, mode=mode)
    if kind == "mutated":
        data = _mutated(data, draw)
    return _url(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_urls())
def test_any_data_url_is_refused_or_kept_as_a_clean_bounded_png(url):
    try:
        kept = services.signature_image_clean(url)
    except ValidationError as exc:
        assert exc.code in {"signature_image_invalid", "signature_image_too_large"}
        return
    if not url:
        assert kept == ""
        return
    png = _bytes(kept)
    assert len(kept) <= services.MAX_SIGNATURE_BYTES
    assert _iend_is_last(png)
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        assert image.size[0] <= 2000 and image.size[1] <= 1000
        image.load()
    assert services.signature_image_clean(kept) == kept  # already clean: unchanged
