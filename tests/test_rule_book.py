"""The rule book is one hop away (issue 14 point 1): every rule R1–R27 is a heading of
docs/rules.md, and `grep -rnw Rn` finds it in the code (a comment, a docstring or an error code
is enough, so the rule stays findable when messages lose their "Rn：" prefix) and in the tests.

A rule docs/rules.md marks "Not implemented yet" must have neither: once code cites it, the marker
is stale and the rule is held to the full check. What docs/rules.md names must exist: each path,
each importable dotted name, and each test file it lists for a rule must cite that rule.

docs/demo.md is checked cheaply: every identity number in it is one of the demo cast's."""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path

import pytest

from accounts.demo import PEOPLE

ROOT = Path(__file__).resolve().parent.parent
RULES_MD = ROOT / "docs" / "rules.md"
DEMO_MD = ROOT / "docs" / "demo.md"
RULES = [f"R{n}" for n in range(1, 28)]
CODE_APPS = ("accounts", "family", "payments", "wallet")
NOT_IMPLEMENTED = "**Not implemented yet"
HEADING = re.compile(r"^## (R\d+)\b.*$", re.MULTILINE)


def word(rule: str) -> re.Pattern:
    """`grep -w`: R1 is not found in R12 or R1x, but is in "R1–R6" and "（R1）"."""
    return re.compile(rf"(?<!\w){rule}(?!\w)")


@cache
def source_files() -> tuple[tuple[Path, str], ...]:
    return tuple(
        (path, path.read_text(encoding="utf-8"))
        for app in CODE_APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    )


@cache
def suite_files() -> tuple[tuple[Path, str], ...]:
    this = Path(__file__).resolve()
    return tuple(
        (path, path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.resolve() != this
    )


@cache
def sections() -> dict[str, str]:
    """Rule number → its section of docs/rules.md (heading to the next heading)."""
    text = RULES_MD.read_text(encoding="utf-8")
    found = {}
    matches = list(HEADING.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        found[match.group(1)] = text[match.start() : end]
    return found


def implemented(rule: str) -> bool:
    return NOT_IMPLEMENTED not in sections()[rule]


def hits(files, rule: str) -> list[str]:
    pattern = word(rule)
    return [str(path.relative_to(ROOT)) for path, text in files if pattern.search(text)]


def test_every_rule_has_one_heading_in_order():
    headings = HEADING.findall(RULES_MD.read_text(encoding="utf-8"))
    assert headings == RULES


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_says_where_it_lives(rule):
    section = sections()[rule]
    assert "**Where in the code:**" in section
    assert "**Tests:**" in section


@pytest.mark.parametrize("rule", RULES)
def test_the_rule_is_cited_in_the_code_and_in_the_tests(rule):
    in_code, in_tests = hits(source_files(), rule), hits(suite_files(), rule)
    if implemented(rule):
        assert in_code, f"{rule}: no `# {rule}` in {', '.join(CODE_APPS)}"
        assert in_tests, f"{rule}: no test under tests/ names {rule}"
    else:
        assert not in_code and not in_tests, (
            f"{rule} is cited in {in_code + in_tests}: drop its '{NOT_IMPLEMENTED}' marker "
            "in docs/rules.md and say where it lives"
        )


def _backticked(section: str) -> list[str]:
    return re.findall(r"`([^`\s]+)`", section)


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


@pytest.mark.parametrize("rule", RULES)
def test_what_the_rule_book_names_exists(rule):
    section = sections()[rule]
    tests_part = section.split("**Tests:**", 1)[1]
    for name in _backticked(section):
        if "/" in name and not name.startswith("/"):  # a path, not a URL
            assert (ROOT / name).exists(), f"{rule}: {name} does not exist"
        elif name.split(".")[0] in CODE_APPS and "." in name:
            assert _resolves(name), f"{rule}: {name} does not import"
    for name in _backticked(tests_part):
        assert word(rule).search((ROOT / name).read_text(encoding="utf-8")), (
            f"{rule}: {name} is listed as its test but never names {rule}"
        )


def test_every_identity_number_in_the_demo_story_is_the_casts():
    cast = {number for _name, number, *_rest in PEOPLE}
    shown = set(re.findall(r"\b\d{17}[\dX]\b", DEMO_MD.read_text(encoding="utf-8")))
    assert shown, "docs/demo.md lists the cast's identity numbers"
    assert shown <= cast, f"not in accounts/demo.py: {sorted(shown - cast)}"
    assert cast <= shown, f"missing from docs/demo.md: {sorted(cast - shown)}"
