"""Build the portal's bundled Chinese font: a subset of Noto Sans CJK SC (SIL OFL 1.1).

    .venv/bin/python scripts/subset-font.py            # writes static/fonts/NotoSansSC-Portal-*.otf
    .venv/bin/python scripts/subset-font.py --check    # only lists repository characters it lacks

Source: the Simplified Chinese face of the Noto Sans CJK collections that Debian's fonts-noto-cjk
installs (/usr/share/fonts/opentype/noto/NotoSansCJK-{Regular,Bold}.ttc; override the directory
with NOTO_CJK_DIR). Kept: ASCII, Latin-1, General Punctuation, CJK Symbols and Punctuation,
Halfwidth and Fullwidth Forms, every character of GB 2312 (its 6763 hanzi of levels 1 and 2 and its
symbol rows, found by decoding every valid GB 2312 double-byte code), a short list of given-name
characters outside GB 2312, and every character in the repository's templates (letters included),
Python sources (messages, choices, the demo cast in accounts/demo.py) and README.

The font is renamed "Noto Sans SC Portal" (PostScript NotoSansSC-Portal-Regular/-Bold) so that a
PDF's font list shows the bundled subset, not a system font; copyright, licence and designer
records stay. The output is reproducible: the same repository text and the same source fonts give
the same bytes (no timestamp is refreshed). Re-run it after adding templates with new characters;
`--check` (and tests/accounts/test_pdf_fonts.py) say which characters are missing."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "static" / "fonts"
SOURCE_DIR = Path(os.environ.get("NOTO_CJK_DIR", "/usr/share/fonts/opentype/noto"))
SC_FAMILY = "Noto Sans CJK SC"
FAMILY = "Noto Sans SC Portal"
WEIGHTS = {"Regular": "NotoSansCJK-Regular.ttc", "Bold": "NotoSansCJK-Bold.ttc"}

RANGES = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 Supplement (punctuation, ¥, ·, ×, ÷, accented letters)
    (0x2000, 0x206F),  # General Punctuation (— … ‘’ “” ‰ ※)
    (0x3000, 0x303F),  # CJK Symbols and Punctuation (、。〈〉《》「」【】〔〕)
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms (，：；（）？！￥)
]

# Given-name characters in everyday use (all in the 通用规范汉字表) that GB 2312 lacks.
NAME_EXTRAS = "堃喆玥珺祎昇琇璟瑄赟淏珏琤晞昉旻湉沄涴熠燚甯翀芃蓁蘅镕霈飏婕昀皓弢炜"

DROPPED_FEATURES = {"locl", "vert", "vrt2", "valt", "vhal", "vkna", "vkrn", "vpal", "vchw", "vjmo"}

# Repository text whose characters must all be in the font.
SCAN_GLOBS = [
    "templates/**/*",
    "accounts/**/*.py",
    "family/**/*.py",
    "payments/**/*.py",
    "portal/**/*.py",
    "tests/**/*.py",
    "README.md",
]


def gb2312_characters() -> set[int]:
    """Every character GB 2312 encodes: rows 0xA1-0xF7 by cells 0xA1-0xFE, decoded."""
    found = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                found.add(ord(bytes((high, low)).decode("gb2312")))
    return found


def repository_characters() -> set[int]:
    found = set()
    for pattern in SCAN_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            if not path.is_file():
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            found.update(ord(char) for char in text if ord(char) >= 0x80)
    return found


def wanted_characters() -> tuple[set[int], dict[str, int]]:
    ranges = {code for start, end in RANGES for code in range(start, end + 1)}
    gb2312 = gb2312_characters()
    names = {ord(char) for char in NAME_EXTRAS}
    repository = repository_characters()
    hanzi = {code for code in gb2312 if 0x4E00 <= code <= 0x9FFF}
    counts = {
        "ranges": len(ranges),
        "gb2312": len(gb2312),
        "gb2312 hanzi": len(hanzi),
        "name extras": len(names),
        "repository": len(repository),
    }
    return ranges | gb2312 | names | repository, counts


def sc_face(collection_path: Path) -> TTFont:
    collection = TTCollection(str(collection_path))
    for font in collection.fonts:
        if font["name"].getDebugName(1) == SC_FAMILY:
            return font
    raise SystemExit(f"{collection_path}: no {SC_FAMILY!r} face")


def rename(font: TTFont, weight: str) -> None:
    """New family and PostScript names (a Modified Version under the OFL); other records stay."""
    names = font["name"]
    postscript = f"NotoSansSC-Portal-{weight}"
    version = names.getDebugName(5) or ""
    records = {
        1: FAMILY,
        2: weight,
        3: f"{version.split(';')[0].removeprefix('Version ')};{postscript}",
        4: f"{FAMILY} {weight}",
        6: postscript,
        10: (
            "Subset of Noto Sans CJK SC for the letters and PDFs of the 职工医保个人账户家庭共济 "
            "portal: ASCII, Latin-1, punctuation, full-width forms, GB 2312 and the portal's text. "
            "Built by scripts/subset-font.py."
        ),
    }
    for name_id in (1, 2, 3, 4, 6, 10, 16, 17):
        names.removeNames(nameID=name_id)
    for name_id, value in records.items():
        names.setName(value, name_id, 3, 1, 0x409)
        if value.isascii():
            names.setName(value, name_id, 1, 0, 0)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [postscript]
        top = cff.topDictIndex[0]
        top.FullName = f"{FAMILY} {weight}"
        top.FamilyName = FAMILY


def build(weight: str, file_name: str, codes: set[int]) -> tuple[Path, set[int]]:
    font = sc_face(SOURCE_DIR / file_name)
    missing = {code for code in codes if code not in font.getBestCmap()}
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.name_legacy = True
    options.notdef_outline = True
    options.drop_tables += ["DSIG"]
    # Horizontal Simplified Chinese only: the Japanese, Korean and Traditional forms (locl) and
    # the vertical-writing alternates would nearly double the glyph count.
    options.layout_features = [
        feature for feature in options.layout_features if feature not in DROPPED_FEATURES
    ]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codes - missing)
    subsetter.subset(font)
    rename(font, weight)
    font.recalcTimestamp = False
    out = OUT_DIR / f"NotoSansSC-Portal-{weight}.otf"
    font.save(str(out))
    return out, missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="list missing characters only")
    args = parser.parse_args()
    codes, counts = wanted_characters()
    print("characters:", ", ".join(f"{key} {value}" for key, value in counts.items()))
    print(f"wanted: {len(codes)}")
    if args.check:
        missing = set(repository_characters())
        for weight in WEIGHTS:
            font = TTFont(str(OUT_DIR / f"NotoSansSC-Portal-{weight}.otf"))
            lacking = sorted(code for code in missing if code not in font.getBestCmap())
            print(f"{weight}: lacks {''.join(map(chr, lacking)) or 'nothing'}")
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for weight, file_name in WEIGHTS.items():
        out, missing = build(weight, file_name, codes)
        font = TTFont(str(out))
        print(
            f"{out.relative_to(ROOT)}: {out.stat().st_size:,} bytes, "
            f"{len(font.getGlyphOrder()):,} glyphs, {len(font.getBestCmap()):,} characters"
        )
        if missing:
            shown = "".join(chr(code) for code in sorted(missing) if code > 0x2FF)
            print(f"  not in the source font ({len(missing)}): {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
