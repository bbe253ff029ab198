"""Issue 14 point 4: one error code per refusal, views place errors by code (never by comparing
translated text), and no rule number in what a person reads (R6 etc. stay in comments and codes).

Read from the source (ast), so a new `ValidationError(SOME_MESSAGE, code=...)` anywhere in the
family and wallet apps is held to the same convention: the code is the constant's name in lower
case."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from family.services import STATE_CODES
from family.views import binding, counter_binding, member
from wallet import forms as wallet_forms

ROOT = Path(__file__).resolve().parents[2]
RULE_PREFIX = re.compile(r"R\d+(?:/R\d+)*[：:]")
# A rule cited in parentheses in running text: （R15）, （R9、R10）.
RULE_IN_TEXT = re.compile(r"[（(]R\d+(?:[、,]\s*R\d+)*[）)]")
COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.S)


def _raised(app: str = "family") -> list[tuple[str, str, str]]:
    """(message constant, code, where) of every ValidationError(CONSTANT, code="...") of `app`."""
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (
                isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ValidationError"
            ):
                continue
            if not node.args:
                continue
            first = node.args[0]
            name = first.id if isinstance(first, ast.Name) else getattr(first, "attr", None)
            if not (name and name.isupper()):
                continue
            code = next((k.value for k in node.keywords if k.arg == "code"), None)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(code, ast.Constant):
                found.append((name, code.value, where))
            elif name != "MEMBER_PROBLEM":  # wraps a member's error and keeps its code
                found.append((name, None, where))
    return found


def test_every_refusal_has_its_own_code_named_after_its_message():
    raised = _raised()
    assert len(raised) > 80  # the scan found the services, checks, forms and counter
    wrong = [(name, code, where) for name, code, where in raised if code != name.lower()]
    assert wrong == []


def test_every_wallet_refusal_has_its_own_code_named_after_its_message():  # R23
    raised = _raised("wallet")
    assert len(raised) >= 8  # the services and selectors of wallet/
    wrong = [(name, code, where) for name, code, where in raised if code != name.lower()]
    assert wrong == []
    assert set(wallet_forms.FIELD_ERRORS) <= {code for _name, code, _where in raised}
    assert set(wallet_forms.TRANSFER_FIELD_ERRORS) <= {code for _name, code, _where in raised}


def test_the_codes_views_map_to_fields_are_codes_the_services_raise():
    codes = {code for _name, code, _where in _raised()}
    maps = {
        "binding.SIGN_FIELD_ERRORS": binding.SIGN_FIELD_ERRORS,
        "binding.WINDOW_FIELD_ERRORS": binding.WINDOW_FIELD_ERRORS,
        "binding.CAP_FIELD_ERRORS": binding.CAP_FIELD_ERRORS,
        "counter_binding.MEMBER_FIELD_ERRORS": counter_binding.MEMBER_FIELD_ERRORS,
        "member.CONSENT_FIELD_ERRORS": member.CONSENT_FIELD_ERRORS,
    }
    unknown = {label: set(fields) - codes for label, fields in maps.items() if set(fields) - codes}
    assert unknown == {}
    assert codes >= STATE_CODES


def _entries(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) of each live entry of a .po file (obsolete `#~` entries skipped)."""
    entries = []
    for block in path.read_text().split("\n\n"):
        parts: dict[str, list[str]] = {}
        key = None
        for line in block.splitlines():
            if line.startswith(("msgid ", "msgstr ")):
                key, _, rest = line.partition(" ")
                parts[key] = [rest]
            elif line.startswith('"') and key:
                parts[key].append(line)
        if "msgid" in parts:
            text = {k: "".join(s.strip()[1:-1] for s in v) for k, v in parts.items()}
            entries.append((text["msgid"], text.get("msgstr", "")))
    return entries


def test_no_translatable_text_carries_a_rule_number():
    """The English catalogue holds every translatable string of the portal (the Chinese is the
    source text itself)."""
    entries = _entries(ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 500
    numbered = [
        msgid
        for msgid, msgstr in entries
        if any(
            pattern.search(text)
            for pattern in (RULE_PREFIX, RULE_IN_TEXT)
            for text in (msgid, msgstr)
        )
    ]
    assert numbered == []


def test_the_rule_number_finder_finds_one():
    assert RULE_PREFIX.search("R6：授权开始时间不得早于当前时间")
    assert RULE_PREFIX.search("R7/R22: only the holder")
    assert not RULE_PREFIX.search("授权开始时间不得早于当前时间")


def test_no_template_shows_a_rule_number():
    """Pages say what happens in plain words; the rule behind a sentence may be named in a
    template comment, not in the text."""
    shown = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = COMMENT.sub("", path.read_text())
        found = RULE_PREFIX.findall(text) + RULE_IN_TEXT.findall(text)
        if found:
            shown[str(path.relative_to(ROOT))] = found
    assert shown == {}


def test_the_rule_in_text_finder_finds_one():
    assert RULE_IN_TEXT.search("可随时查询（R15）。")
    assert RULE_IN_TEXT.search("（R9、R10）")
    assert not RULE_IN_TEXT.search("（本人）")
