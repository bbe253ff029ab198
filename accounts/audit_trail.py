"""How the audit-trail browser and its CSV export show an entry (issue 6 point 3), and the
export's own audit entry (R20).

An entry's `before`/`after` are shown as a compact diff of the keys that changed. Identity
numbers are masked wherever they appear in it: snapshots already mask the `id_number` field, but
an older entry or a free-text value may still hold a whole number."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.apps import apps
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from . import idnumber
from .csv_export import csv_safe
from .models import AuditEntry, InsuredPerson, User

SYSTEM_ACTOR = _("系统")
CITIZEN_ACTOR = _("%(name)s（参保人本人）")
NOTHING_CHANGED = _("无变更内容")
MORE_KEYS = _("另有%(count)s项")

MAX_KEYS = 8  # keys shown per entry; the rest are counted
MAX_VALUE = 60  # characters of one value
# An 18-character identity number inside any text, not part of a longer run of digits.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


# A mainland mobile number inside any text (11 digits from 1), shown as 138****0001.
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(1\d{2})\d{4}(\d{4})(?![0-9])")


def mask_text(text: str) -> str:
    text = _ID_IN_TEXT.sub(lambda m: idnumber.mask(m.group(0)), text)
    return _PHONE_IN_TEXT.sub(r"\1****\2", text)


def _value_text(value) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = mask_text(text)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


@dataclass(frozen=True)
class Change:
    key: str
    before: str
    after: str


@dataclass(frozen=True)
class Diff:
    changes: list[Change]
    more: int  # changed keys not shown

    def as_text(self) -> str:
        if not self.changes:
            return str(NOTHING_CHANGED)
        parts = [f"{c.key}: {c.before} → {c.after}" for c in self.changes]
        if self.more:
            parts.append(_g(MORE_KEYS) % {"count": self.more})
        return "; ".join(parts)


def entry_diff(before, after) -> Diff:
    """The keys whose value differs between before and after (all keys of a creation or a
    deletion), in the order they were written; a non-dict side is shown whole under "—"."""
    before = before if isinstance(before, dict) else ({} if before is None else {"—": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"—": after})
    keys = [*before, *(k for k in after if k not in before)]
    changed = [k for k in keys if before.get(k) != after.get(k) or (k in before) != (k in after)]
    changes = [
        Change(
            key=mask_text(str(k)),
            before=_value_text(before.get(k)) if k in before else "—",
            after=_value_text(after.get(k)) if k in after else "—",
        )
        for k in changed[:MAX_KEYS]
    ]
    return Diff(changes=changes, more=max(0, len(changed) - MAX_KEYS))


def actor_text(actor: User | None) -> str:
    """A staff user by username; a citizen by name (their username is a random key); 系统."""
    if actor is None:
        return str(SYSTEM_ACTOR)
    if actor.is_staff:
        return actor.username
    return _g(CITIZEN_ACTOR) % {"name": actor.first_name or actor.username}


def object_text(entry: AuditEntry) -> str:
    """The model's name and the object's id (a public UUID shortened to 8 characters)."""
    try:
        label = str(apps.get_model(entry.object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        label = entry.object_type
    object_id = entry.object_id
    if len(object_id) == 36 and object_id.count("-") == 4:
        object_id = object_id[:8]
    return f"{label} {object_id}".strip()


def person_text(person: InsuredPerson | None) -> str:
    return f"{person.name}（{person.masked_id_number}）" if person else ""


@dataclass(frozen=True)
class AuditRow:
    """One entry as the page and the CSV show it."""

    entry: AuditEntry
    actor: str
    object: str
    diff: Diff

    @property
    def person(self) -> InsuredPerson | None:
        return self.entry.person


def audit_rows(entries: Iterable[AuditEntry]) -> list[AuditRow]:
    return [
        AuditRow(
            entry=e,
            actor=actor_text(e.actor),
            object=object_text(e),
            diff=entry_diff(e.before, e.after),
        )
        for e in entries
    ]


# --- CSV -------------------------------------------------------------------------------------

CSV_HEADER = (
    _("时间"),
    _("操作人"),
    _("渠道"),
    _("操作"),
    _("操作代码"),
    _("对象"),
    _("参保人"),
    _("变更内容"),
)


def csv_cells(entry: AuditEntry) -> list[str]:
    local = timezone.localtime(entry.at)
    cells = [
        local.strftime("%Y-%m-%d %H:%M:%S"),
        actor_text(entry.actor),
        str(entry.get_channel_display()),
        entry.action_label,
        entry.action,
        object_text(entry),
        person_text(entry.person),
        entry_diff(entry.before, entry.after).as_text(),
    ]
    return [csv_safe(c) for c in cells]


def csv_lines(entries: Iterable[AuditEntry], writer_line) -> Iterator[str]:
    """The CSV text, line by line: a UTF-8 BOM (so Excel reads Chinese), the header, the rows.
    `writer_line(cells)` turns cells into one CSV line (csv.writer on an echo buffer)."""
    yield "\ufeff" + writer_line([str(h) for h in CSV_HEADER])
    for entry in entries:
        yield writer_line(csv_cells(entry))
