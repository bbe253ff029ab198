"""Hostile values for any field: what an attacker, a broken client or a pasted spreadsheet sends.

`NASTY` are the cases that broke parsers elsewhere (or here: issue 13's amounts, dates and
`isdigit()` on superscripts); `hostile()` mixes them with generated text, numbers and dates, so
that a whole class of input is covered, not only the listed cases."""

from __future__ import annotations

import uuid

from hypothesis import strategies as st

NASTY = [
    "",
    " ",
    "\u3000",  # ideographic space
    "\x00",
    "a\x00b",
    "%00",
    "\x1b[31m",
    "\x7f",
    "\u202e反转",
    "\ufeff1",
    "1\r\n2",
    "٣",  # Arabic-Indic three
    "１２",  # full-width digits
    "²",  # superscript two: str.isdigit() is True, int() refuses it
    "①",
    "1_000",
    "+1",
    "-1",
    "-0",
    " 1 ",
    ".5",
    "5.",
    "1e5",
    "1E-400",
    "NaN",
    "-Infinity",
    "0x10",
    "1,000.00",
    "99999999999999999999999999999999",
    str(2**63),
    str(-(2**63) - 1),
    "0.001",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2026-13-01",
    "２０２６-１２-０１",
    "2026-12-01T25:61:00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '=HYPERLINK("http://x")',
    "../../etc/passwd",
    "x" * 5000,
    "王" * 300,
    "🙂",
    "true",
    "[]",
    "{}",
    "null",
    "00000000-0000-0000-0000-000000000000",
    str(uuid.UUID(int=1)),
    "32010219750312123X",  # a real demo identity number (someone else's, to a citizen)
    "32010219750312123x",
    "320102197503121230",  # wrong check digit
]

# Text drawn from the whole of Unicode (control characters included, surrogates excluded: a
# browser cannot send them in UTF-8).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
numberish = st.one_of(
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
)
dateish = st.dates().map(lambda d: d.isoformat())


def hostile() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY), any_text, numberish, dateish)


def plausible() -> st.SearchStrategy[str]:
    return st.sampled_from(PLAUSIBLE)


# Values a real person would type (demo data): mixed in so that some examples get past the
# fields' checks into the services' rules.
PLAUSIBLE = [
    "王丽",
    "320102200609182481",
    "周芳",
    "320211198004192224",
    "13800000006",
    "Gongji-2025!",
    "Staff-2025!",
    "New-Passw0rd-2026",
    "2027-01-01",
    "2027-01-01T10:00",
    "2026-12-31T23:59",
    "100.00",
    "1",
    "child",
    "agree",
]
