#!/usr/bin/env python3
"""Letter PDF benchmark (issue 7): how long `family.letter_print.letter_pdf` takes for a typical
commitment letter (2 members) and a large one (8 members).

    .venv/bin/python bench/letter_pdf.py [--runs 50] [--warmup 5] [--save artifacts/letters]

The letters are built in memory (no database): the text comes from the portal's own
`family.letters.render` for unsaved persons of 南京市 (320100), exactly as a signing would write
it, with a drawn signature (a PNG data URL) on the 8-member one. What is timed is what the PDF
download does after its one query: lay the stored letter out (HTML, QR code) and render it with
WeasyPrint through `accounts.pdf` (bundled font, offline fetcher). Each kind is rendered
`--warmup` times unmeasured (font loading, WeasyPrint's stylesheets), then `--runs` times.
Prints a Markdown table (median, p95, max in ms; PDF size and pages) and the versions; see
README.md, "Letter PDF (issue 7)". `--save DIR` also writes both PDFs and their pages as PNG
(pdftoppm -r 60) to look at."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import importlib.metadata
import io
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")

SHANGHAI = ZoneInfo("Asia/Shanghai")
SIGNED_AT = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def shanghai(*fields: int) -> dt.datetime:
    """A wall-clock time in Asia/Shanghai (the portal's TIME_ZONE)."""
    return dt.datetime(*fields, tzinfo=SHANGHAI)


TYPICAL = [
    ("王小明", "child", "320102201206011359", None, None),
    ("王德胜", "parent", "320111194801051113", None, shanghai(2027, 12, 31, 23, 59, 59)),
]
EIGHT = [
    ("李秀梅", "spouse", "320104197708252463", None, None),
    ("王小虎", "child", "320102201206011359", None, None),
    ("王欧阳丽", "child", "320102200609182481", None, shanghai(2028, 12, 31, 23, 59, 59)),
    ("王德福", "parent", "320111194801051113", shanghai(2026, 12, 1), None),
    ("张桂兰", "parent", "320211198004192224", None, shanghai(2027, 6, 30, 23, 59, 59)),
    ("王芳", "sibling", "320105198207073177", None, None),
    ("王老太", "paternal_grandparent", "320106197911305199", None, None),
    ("王晨", "paternal_grandchild", "32010219750312123X", shanghai(2027, 1, 1), None),
]


def signature_png() -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (360, 120), (255, 255, 255, 0))
    ImageDraw.Draw(image).line(
        [(20, 90), (90, 30), (150, 95), (220, 25), (330, 80)], fill=(10, 10, 60), width=5
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def build_letter(rows, *, image: str = ""):
    """An unsaved CommitmentLetter whose text is what `relationship_bind` would store."""
    from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
    from family import letters
    from family.models import CommitmentLetter

    region = RegionPolicy(code="320100", name="南京市")
    holder = InsuredPerson(name="王建国", id_number="32010219750312123X", region=region)
    lines = [
        letters.LetterLine(
            InsuredPerson(name=name, id_number=number, region=region),
            relation,
            start,
            end,
        )
        for name, relation, number, start, end in rows
    ]
    kind = CommitmentLetter.Kind.RELATIONSHIP_LETTER
    purpose = CommitmentLetter.Purpose.BIND
    version, text = letters.render(kind=kind, purpose=purpose, holder=holder, lines=lines)
    return CommitmentLetter(
        kind=kind,
        purpose=purpose,
        template_version=version,
        text=text,
        content_hash=CommitmentLetter.hash_text(text),
        holder=holder,
        signed_at=SIGNED_AT,
        channel=AuditEntry.Channel.ONLINE,
        signed_name=holder.name,
        signature_image=image,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def pages_of(pdf: bytes) -> int | str:
    """Pages by poppler's pdfinfo (WeasyPrint compresses its object streams)."""
    tool = shutil.which("pdfinfo")
    if tool is None:
        return "?"
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        out = subprocess.run([tool, handle.name], capture_output=True, text=True, check=True)  # noqa: S603
    match = re.search(r"^Pages:\s+(\d+)", out.stdout, re.MULTILINE)
    return int(match[1]) if match else "?"


def measure(letter, *, runs: int, warmup: int) -> dict:
    from family.letter_print import letter_html, letter_pdf

    for _ in range(warmup):
        letter_pdf(letter)
    html_ms, pdf_ms = [], []
    pdf = b""
    for _ in range(runs):
        start = time.perf_counter()
        letter_html(letter, pdf=True)
        html_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        pdf = letter_pdf(letter)
        pdf_ms.append((time.perf_counter() - start) * 1000)
    return {
        "html_median": statistics.median(html_ms),
        "median": statistics.median(pdf_ms),
        "p95": percentile(pdf_ms, 0.95),
        "max": max(pdf_ms),
        "size": len(pdf),
        "pages": pages_of(pdf),
        "pdf": pdf,
    }


def save(pdf: bytes, out: Path, stem: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{stem}.pdf"
    path.write_bytes(pdf)
    tool = shutil.which("pdftoppm")
    if tool:
        subprocess.run([tool, "-r", "60", "-png", str(path), str(out / stem)], check=True)  # noqa: S603


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--save", type=Path, default=None, help="write the PDFs and PNGs here")
    args = parser.parse_args()

    import django

    django.setup()

    cases = [
        ("typical (2 members)", "typical-2-members", build_letter(TYPICAL)),
        ("8 members, drawn signature", "eight-members", build_letter(EIGHT, image=signature_png())),
    ]
    print(f"runs {args.runs} after {args.warmup} warm-up renderings each\n")
    print("| letter | PDF median | p95 | max | HTML layout (median) | PDF size | pages |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, stem, letter in cases:
        result = measure(letter, runs=args.runs, warmup=args.warmup)
        print(
            f"| {label} | {result['median']:.0f} ms | {result['p95']:.0f} ms "
            f"| {result['max']:.0f} ms | {result['html_median']:.1f} ms "
            f"| {result['size'] / 1024:.0f} KiB | {result['pages']} |"
        )
        if args.save:
            save(result["pdf"], args.save, stem)
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("weasyprint", "segno", "Django")
    )
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, ", end="")
    print(f"Python {platform.python_version()}, {versions}")


if __name__ == "__main__":
    main()
