"""The PDFs carry their own Chinese font (issue 7): a subset of Noto Sans SC in static/fonts/,
declared by templates/partials/pdf_fonts.html and served to WeasyPrint by accounts.pdf's offline
fetcher. No tofu on a machine without fonts, and the fetcher still reads nothing else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from fontTools.ttLib import TTFont

from accounts.pdf import FONT_DIR, bundled_font_names, offline_fetcher, pdf_from_html

ROOT = Path(__file__).resolve().parents[2]
FONTS = {
    "NotoSansSC-Portal-Regular.otf": "NotoSansSC-Portal-Regular",
    "NotoSansSC-Portal-Bold.otf": "NotoSansSC-Portal-Bold",
}
TITLES = ["家庭关系承诺书", "共济承诺书", "个人账户代扣协议"]
SAMPLE = [
    *TITLES,
    "持卡人：古丽娜（6590**********2644）",
    "王德胜 配偶 2025年1月1日至2025年12月31日",
    "马小燕 子女 父母 长期有效；签名：王德胜",
]


@pytest.fixture(autouse=True)
def _poppler():
    """These tests read the PDFs back with poppler-utils: without them they fail, never skip."""
    if not (shutil.which("pdffonts") and shutil.which("pdftotext")):
        pytest.fail("poppler-utils is missing: run `make system-deps` (pdffonts, pdftotext)")


def _html(fonts_partial: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in SAMPLE[3:])
    return (
        '<!DOCTYPE html><html lang="zh-Hans"><head><meta charset="utf-8">'
        f"{fonts_partial}"
        '<style>body { font-family: "Portal Sans SC"; font-size: 12pt; }</style></head><body>'
        f"<h1>{SAMPLE[0]}</h1><h2>{SAMPLE[1]}</h2><p><b>{SAMPLE[2]}</b></p>{paragraphs}"
        "</body></html>"
    )


def _poppler(tool: str, pdf: Path) -> str:
    return subprocess.run(
        [shutil.which(tool), str(pdf), *(["-"] if tool == "pdftotext" else [])],
        capture_output=True,
        check=True,
        text=True,
    ).stdout


def _embedded_fonts(pdffonts_output: str) -> list[tuple[str, str]]:
    """(name without the subset tag, emb column) for each font pdffonts lists."""
    rows = pdffonts_output.splitlines()[2:]
    fonts = []
    for row in rows:
        name, *_rest = row.split()
        emb = re.search(r"\s(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", row)
        fonts.append((name.split("+", 1)[-1], emb.group(1) if emb else "?"))
    return fonts


def _assert_chinese_comes_back(pdf_bytes: bytes, tmp_path: Path) -> None:
    assert pdf_bytes.startswith(b"%PDF")
    pdf = tmp_path / "fonts.pdf"
    pdf.write_bytes(pdf_bytes)
    fonts = _embedded_fonts(_poppler("pdffonts", pdf))
    # Only the bundled subset, embedded: Regular for the text, Bold for headings and <b>.
    assert sorted(fonts) == [("Portal-Sans-SC", "yes"), ("Portal-Sans-SC-Bold", "yes")]
    text = re.sub(r"\s+", "", _poppler("pdftotext", pdf))
    for line in SAMPLE:
        assert re.sub(r"\s+", "", line) in text


def test_chinese_renders_in_the_bundled_font_only(tmp_path):
    html = _html(render_to_string("partials/pdf_fonts.html"))
    _assert_chinese_comes_back(pdf_from_html(html), tmp_path)


def test_the_bundled_font_has_every_character_of_the_sample_so_no_tofu():
    for file_name in FONTS:
        cmap = TTFont(FONT_DIR / file_name).getBestCmap()
        lacking = {char for line in SAMPLE for char in line if ord(char) not in cmap}
        assert lacking == set(), file_name


def test_the_bundled_font_has_every_character_of_the_letter_and_pdf_templates():
    """A template that brings a character outside the subset needs scripts/subset-font.py run."""
    sources = [
        *(ROOT / "templates" / "family" / "letters").rglob("*"),
        *(ROOT / "templates").rglob("*pdf*.html"),
    ]
    wanted = {
        char
        for path in sources
        if path.is_file()
        for char in path.read_text(encoding="utf-8")
        if ord(char) >= 0x80
    }
    for file_name in FONTS:
        cmap = TTFont(FONT_DIR / file_name).getBestCmap()
        lacking = "".join(sorted(char for char in wanted if ord(char) not in cmap))
        assert lacking == "", f"{file_name} lacks {lacking}: run scripts/subset-font.py"


def test_the_bundled_fonts_are_the_renamed_open_licence_subset():
    assert set(FONTS) <= bundled_font_names()
    for file_name, postscript in FONTS.items():
        font = TTFont(FONT_DIR / file_name)
        assert font["name"].getDebugName(6) == postscript
        assert "SIL Open Font License" in font["name"].getDebugName(13)
        assert 7000 < len(font.getBestCmap()) < 9000  # GB 2312 and a little more, not all CJK
        assert (FONT_DIR / file_name).stat().st_size < 3_000_000
    licence = (FONT_DIR / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Copyright 2014-2021 Adobe" in licence


def test_the_fetcher_serves_exactly_the_bundled_font_files():
    fetcher = offline_fetcher()
    response = fetcher.fetch("portal-font:NotoSansSC-Portal-Regular.otf")
    body = response.read()
    response.close()
    assert body.startswith(b"OTTO")
    assert body == (FONT_DIR / "NotoSansSC-Portal-Regular.otf").read_bytes()
    assert response.content_type == "font/otf"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/NotoSansSC-Portal-Regular.otf",
        "https://fonts.example.com/noto.woff2",
        "file:///etc/passwd",
        f"file://{FONT_DIR / 'NotoSansSC-Portal-Regular.otf'}",
        "portal-font:../../etc/passwd",
        "portal-font:/etc/passwd",
        "portal-font:%2e%2e/%2e%2e/etc/passwd",
        "portal-font:fonts/NotoSansSC-Portal-Regular.otf",
        "portal-font:../fonts/NotoSansSC-Portal-Regular.otf",
        "portal-font:OFL.txt",
        "portal-font:README.md",
        "portal-font:",
        "ftp://example.com/font.otf",
    ],
)
def test_the_fetcher_refuses_the_network_files_and_anything_but_a_bundled_font(url):
    with pytest.raises(ValueError, match="does not fetch"):
        offline_fetcher().fetch(url)


def test_chinese_renders_with_no_system_font_at_all(tmp_path):
    """Fontconfig with an empty configuration (no font directory): only the bundled font exists."""
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(config), "FONTCONFIG_PATH": str(tmp_path)}
    if shutil.which("fc-list"):
        listed = subprocess.run(
            [shutil.which("fc-list")], env=env, capture_output=True, check=True, text=True
        )
        assert listed.stdout.strip() == ""  # really no font for fontconfig
    html = _html(render_to_string("partials/pdf_fonts.html"))
    script = textwrap.dedent(
        """
        import sys, warnings
        warnings.simplefilter("ignore")  # WeasyPrint: "No fonts configured in FontConfig"
        from accounts.pdf import pdf_from_html
        sys.stdout.buffer.write(pdf_from_html(sys.stdin.buffer.read().decode("utf-8")))
        """
    )
    rendered = subprocess.run(
        [sys.executable, "-c", script],
        input=html.encode("utf-8"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    _assert_chinese_comes_back(rendered.stdout, tmp_path)
