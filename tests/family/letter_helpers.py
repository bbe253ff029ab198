"""Helpers of the letter printing and check-page tests (issue 7): letters signed through the real
services, a drawn signature, the text of a PDF (poppler's pdftotext) and the pages each block of
a WeasyPrint layout lands on."""

from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
import re
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw

from accounts import services as account_services
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from family import services
from family.models import CommitmentLetter, Relation
from tests.bombs import bomb_png
from tests.factories import make_id_number

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
_seq = itertools.count(700)


def shanghai(*fields: int) -> dt.datetime:
    """A wall-clock time in Asia/Shanghai (the portal's TIME_ZONE)."""
    return dt.datetime(*fields, tzinfo=SHANGHAI)


# Eight members of one holder, as varied as a real family gets: every relation of R1 but one
# repeated, names of two to four characters, open and closed windows, started and future starts.
EIGHT = [
    ("李秀梅", Relation.SPOUSE, dt.date(1977, 8, 25), None, None),
    ("王小虎", Relation.CHILD, dt.date(2012, 6, 1), None, None),
    ("王欧阳丽", Relation.CHILD, dt.date(2006, 9, 18), None, shanghai(2028, 12, 31, 23, 59, 59)),
    ("王德福", Relation.PARENT, dt.date(1948, 1, 5), shanghai(2026, 12, 1, 0, 0), None),
    ("张桂兰", Relation.PARENT, dt.date(1950, 3, 3), None, shanghai(2027, 6, 30, 23, 59, 59)),
    ("王芳", Relation.SIBLING, dt.date(1980, 4, 19), None, None),
    ("王老太", Relation.PATERNAL_GRANDPARENT, dt.date(1930, 3, 8), None, None),
    ("王晨", Relation.PATERNAL_GRANDCHILD, dt.date(2020, 2, 2), shanghai(2027, 1, 1), None),
]


def register(region: RegionPolicy, name: str, birth: dt.date, scheme=None) -> InsuredPerson:
    """A person registered by the bureau with a valid GB 11643 number."""
    return account_services.insured_person_register(
        name=name,
        id_number=make_id_number(region.code, birth, seq=next(_seq)),
        phone="13900000000",
        region=region,
        scheme=scheme or InsuredPerson.Scheme.RESIDENT,
        actor=None,
        channel=AuditEntry.Channel.SYSTEM,
    )


def signature_png(text: str = "sign") -> str:
    """A drawn signature as the signing page sends it: a PNG data URL."""
    image = Image.new("RGBA", (360, 120), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 90), (90, 30), (150, 95), (220, 25), (330, 80)], fill=(10, 10, 60), width=5)
    draw.text((30, 100), text, fill=(10, 10, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def png_data_url(size=(480, 160), mode="RGBA", **save) -> str:
    """A blank PNG of `size` as a data URL (`save`: Pillow's PNG options)."""
    buffer = io.BytesIO()
    Image.new(mode, size, 0).save(buffer, format="PNG", **save)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def bomb_url() -> str:
    """A decompression bomb (issue 13): a 9000×9000 PNG, 13 KB as a data URL and 81 megapixels
    once decoded (324 MB as RGBA)."""
    return "data:image/png;base64," + base64.b64encode(bomb_png(9000, 9000)).decode()


def bind_eight(holder: InsuredPerson, *, at: dt.datetime, image: str = "") -> CommitmentLetter:
    """The holder binds eight new members in one letter (online, their own login); the region's
    R21 caps are set so that eight are allowed."""
    RegionPolicy.objects.filter(pk=holder.region_id).update(
        max_members_at_once=10, max_members_lifetime=20
    )
    holder.region.refresh_from_db()
    requests = []
    for name, relation, birth, start, end in EIGHT:
        person = register(holder.region, name, birth)
        requests.append(services.MemberRequest(person, relation, start, end))
    return services.relationship_bind(
        holder=holder,
        members=requests,
        signature=services.Signature(name=holder.name, image=image),
        actor=holder.user,
        channel=AuditEntry.Channel.ONLINE,
        at=at,
    )


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """pdftotext (poppler) of a PDF, as a reader's tools would extract it."""
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout


def squeeze(text: str) -> str:
    """Text without any whitespace: a PDF wraps lines where the page ends, not where the text
    does."""
    return re.sub(r"\s+", "", text)


def pdf_pages_to_png(pdf: bytes, out_dir: Path, stem: str, dpi: int = 60) -> list[Path]:
    """pdftoppm every page to PNG (for a look with an image viewer)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [_tool("pdftoppm"), "-r", str(dpi), "-png", str(path), str(out_dir / stem)], check=True
    )
    return sorted(out_dir.glob(f"{stem}-*.png"))


def pdf_fonts(pdf: bytes, tmp_path: Path) -> list[str]:
    """The font rows of poppler's pdffonts (name, type, encoding, emb, sub, uni, object)."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [_tool("pdffonts"), str(path)], capture_output=True, check=True, text=True
    ).stdout
    return out.splitlines()[2:]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} (poppler-utils) is not installed")
    return path


def pdftools_available() -> bool:
    return all(shutil.which(name) for name in ("pdftotext", "pdftoppm", "pdffonts"))


def block_pages(html: str, css_class: str) -> list[list[int]]:
    """For each element of `css_class` in the WeasyPrint layout of `html`, the page numbers
    (1-based) its boxes land on: a block a page break splits lands on two."""
    from weasyprint import HTML

    from accounts.pdf import offline_fetcher

    document = HTML(string=html, base_url=None, url_fetcher=offline_fetcher()).render()
    pages: dict[int, set[int]] = {}
    order: list[int] = []

    def walk(box, number):
        element = getattr(box, "element", None)
        if element is not None and css_class in (element.get("class") or "").split():
            key = id(element)
            if key not in pages:
                pages[key] = set()
                order.append(key)
            pages[key].add(number)
        for child in getattr(box, "children", ()) or ():
            walk(child, number)

    for number, page in enumerate(document.pages, start=1):
        walk(page._page_box, number)
    return [sorted(pages[key]) for key in order]
