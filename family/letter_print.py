"""Printable layouts of signed commitment letters (R7, issue 7): one HTML document for the browser's
print view and for the PDF download, built only from the stored letter.

A signed letter is immutable, so printing it never renders today's .txt template again
(`family.letters.TEMPLATES`): the stored `text` is split into lines, each numbered member line
becomes its own block that a page break never splits, and the signature block shows what was
recorded when it was signed (typed name, drawn signature, time, channel) with the verification
code, a QR code of the public check page and the content hash.

Layouts are versioned like the texts: `LAYOUTS` maps a text version (`CommitmentLetter.
template_version`) to the layout file it is printed with, so a later layout (`print/v2.html`)
serves the texts written for it while letters signed earlier keep the layout they were shown
with. A text version not in the map (one added later without a layout) uses `DEFAULT_LAYOUT`.

The bureau heading (e.g. 南京市医疗保障局) comes from the stored text too: its 参保统筹区 line names
the holder's region as it was when signed ("参保统筹区：南京市（320100）"); only a text without that
line falls back to the holder's region name today."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from .models import CommitmentLetter
from .services.signatures import signature_image_shown

LAYOUT_V1 = "family/letters/print/v1.html"
# text version -> layout file. A new wording (text version) or a new layout adds a row here.
LAYOUTS = {
    "relationship_letter/2025.1": LAYOUT_V1,
    "mutual_aid_letter/2025.1": LAYOUT_V1,
    "withholding_agreement/2025.1": LAYOUT_V1,
}
DEFAULT_LAYOUT = LAYOUT_V1

# Used when settings define no PORTAL_BASE_URL and no request is at hand (benchmark, shell).
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

BUREAU_SUFFIX = "医疗保障局"
PDF_NAME = _("承诺书-%(code)s.pdf")
PDF_ASCII_NAME = "commitment-letter-%(code)s.pdf"

# "1. 王小明（子女，身份证号码 3201**********1359），授权期限：自…起，长期有效，至解除授权为止。"
MEMBER_LINE = re.compile(
    r"^(?P<number>\d+)\.\s*(?P<name>[^（]+)（(?P<relation>[^，）]+)，身份证号码\s*"
    r"(?P<id_number>[^）]+)），(?P<window_label>授权期限|代扣期限)：(?P<window>.+?)。?$"
)
REGION_LINE = re.compile(r"^参保统筹区：(?P<name>[^（]+)（(?P<code>\d{6})）\s*$", re.MULTILINE)
CLAUSE_LINE = re.compile(r"^[一二三四五六七八九十]+、")
FACT_LINE = re.compile(r"^[^：，。]{1,16}：")


@dataclass(frozen=True)
class MemberLine:
    """One member as the stored letter states it."""

    number: int
    name: str
    relation: str
    id_number: str  # masked when the letter was written
    window_label: str
    window: str
    body: str  # the line after its "1. " prefix, unchanged


@dataclass(frozen=True)
class Block:
    """One line of the stored text as the layout prints it. `kind`: "fact" (授权人：…),
    "clause" (一、…), "member" (one numbered member line), "gap" (a blank line) or "line"."""

    kind: str
    text: str
    member: MemberLine | None = None


def member_line(line: str) -> MemberLine | None:
    match = MEMBER_LINE.match(line.strip())
    if match is None:
        return None
    return MemberLine(
        number=int(match["number"]),
        name=match["name"].strip(),
        relation=match["relation"],
        id_number=match["id_number"].strip(),
        window_label=match["window_label"],
        window=match["window"],
        body=line.strip()[match.end("number") :].lstrip(".").strip(),
    )


def member_lines(text: str) -> list[MemberLine]:
    """The numbered member lines of a stored text, in order."""
    return [m for m in (member_line(line) for line in text.splitlines()) if m is not None]


def region_name(letter: CommitmentLetter) -> str:
    """The holder's region as the stored text names it; the holder's region today otherwise."""
    match = REGION_LINE.search(letter.text)
    if match is not None:
        return match["name"].strip()
    return letter.holder.region.name


def bureau_name(letter: CommitmentLetter) -> str:
    return f"{region_name(letter)}{BUREAU_SUFFIX}"


def split_text(text: str) -> tuple[str, str, list[Block]]:
    """(title, subtitle, body blocks) of a stored text: the first line is the title, a second
    line in full-width parentheses the subtitle (text version and purpose); every line of the
    text is printed exactly once and unchanged."""
    lines = text.rstrip("\n").split("\n")
    title = lines.pop(0).strip() if lines else ""
    subtitle = ""
    if lines and lines[0].startswith("（"):
        subtitle = lines.pop(0).strip()
    blocks: list[Block] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            if blocks and blocks[-1].kind != "gap":
                blocks.append(Block("gap", ""))
            continue
        member = member_line(line)
        if member is not None:
            blocks.append(Block("member", line, member))
        elif CLAUSE_LINE.match(line):
            blocks.append(Block("clause", line))
        elif FACT_LINE.match(line):
            blocks.append(Block("fact", line))
        else:
            blocks.append(Block("line", line))
    while blocks and blocks[-1].kind == "gap":
        blocks.pop()
    return title, subtitle, blocks


def layout_for(letter: CommitmentLetter) -> str:
    return LAYOUTS.get(letter.template_version, DEFAULT_LAYOUT)


def verify_url(code: str, *, request=None) -> str:
    """The absolute address of the public check page: PORTAL_BASE_URL when set (what a PDF kept
    for years should point to), else the address the request came in on, else the default."""
    path = reverse("verify", args=[code])
    base = getattr(settings, "PORTAL_BASE_URL", "")
    if base:
        return base.rstrip("/") + path
    if request is not None:
        return request.build_absolute_uri(path)
    return DEFAULT_BASE_URL + path


def qr_svg(url: str) -> str:
    """An inline SVG QR code of `url` (error correction M, 4-module quiet zone), sized by CSS."""
    return segno.make(url, error="m", boost_error=False).svg_inline(
        border=4, omitsize=True, svgclass="qr-code", lineclass=None
    )


def context(letter: CommitmentLetter, *, request=None, pdf: bool, **extra) -> dict:
    title, subtitle, blocks = split_text(letter.text)
    url = verify_url(letter.verification_code, request=request)
    return {
        "letter": letter,
        "bureau": bureau_name(letter),
        "title": title or letter.get_kind_display(),
        "subtitle": subtitle,
        "blocks": blocks,
        "members": [b.member for b in blocks if b.member is not None],
        "signed_at": timezone.localtime(letter.signed_at),
        "verify_url": url,
        "qr_svg": qr_svg(url),
        # Never a stored image beyond the signature bound (a letter signed before the check).
        "signature_image": signature_image_shown(letter.signature_image),
        "pdf": pdf,
        # The page's Content-Security-Policy nonce for its <style> (django-csp): the template
        # gets no request (see letter_html). A PDF has no policy.
        "csp_nonce": getattr(request, "csp_nonce", "") if request is not None and not pdf else "",
        **extra,
    }


def letter_html(letter: CommitmentLetter, *, request=None, pdf: bool = False, **extra) -> str:
    """The printable document (`extra`: the print view's `back_url` and `pdf_url`). Chinese
    whatever the page language: it is the bureau's legal document, like the text it prints."""
    with translation.override("zh-hans"):
        # No request to the template: it needs none, and context processors would cost queries.
        return render_to_string(
            layout_for(letter), context(letter, request=request, pdf=pdf, **extra)
        )


def letter_pdf(letter: CommitmentLetter, *, request=None) -> bytes:
    from accounts.pdf import pdf_from_html

    return pdf_from_html(letter_html(letter, request=request, pdf=True))


def pdf_content_disposition(letter: CommitmentLetter) -> str:
    """attachment; an ASCII `filename` for old clients and the Chinese name in RFC 5987's
    `filename*` (承诺书-<code>.pdf)."""
    code = letter.verification_code
    with translation.override("zh-hans"):
        name = str(PDF_NAME) % {"code": code}
    ascii_name = PDF_ASCII_NAME % {"code": code}
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
