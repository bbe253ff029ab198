"""Who is told what when an authorization changes (issue 5; R14 "both sides are told").

Built from plain values so that the batch tasks (which read rows with `.values()`) and the
one-row services share it. Names are masked: mail leaves the bureau's systems."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import NamedTuple

from django.urls import reverse
from django.utils import translation

from accounts import notices
from accounts.models import Notification, mask_name
from accounts.services import Notice, setsql

from ..models import Authorization, Relation

Kind = Notification.Kind
PERSON_NAME_FIELDS = ("holder__name", "member__name")


def source_text(label) -> str:
    """A lazy label in the source language (Chinese), stored and translated when shown."""
    with translation.override(None):
        return str(label)


def for_row(row: dict, *, kind: str, event: str, reason=None, holder=True, member=True) -> list:
    """Notices to the holder and/or the member of one authorization, given as a dict with
    `public_id, holder_id, member_id, relation, window_start, window_end, consent_deadline` and
    the two names (`holder__name`, `member__name`)."""
    params = {
        "holder": mask_name(row["holder__name"]),
        "member": mask_name(row["member__name"]),
        "relation": source_text(Relation(row["relation"]).label),
        "start": notices.iso(row["window_start"]),
        "end": notices.iso(row["window_end"]),
    }
    if row.get("consent_deadline") is not None:
        params["deadline"] = notices.iso(row["consent_deadline"])
    if reason is not None:
        params["reason"] = source_text(reason)
    key = f"authorization:{row['public_id']}:{event}"
    out = []
    if holder:
        out.append(
            Notice(
                recipient_id=row["holder_id"],
                kind=kind,
                key=key,
                params={**params, "role": notices.HOLDER},
                link=reverse("family:authorization-detail", args=[row["public_id"]]),
            )
        )
    if member:
        link = (
            reverse("family:consent-answer", args=[row["public_id"]])
            if kind == Kind.CONSENT_REQUESTED
            else reverse("family:records")
        )
        out.append(
            Notice(
                recipient_id=row["member_id"],
                kind=kind,
                key=key,
                params={**params, "role": notices.MEMBER},
                link=link,
            )
        )
    return out


def _link_sql(name: str, column: str) -> str:
    """SQL of `reverse(name, args=[<column>])`: the URL reversed once around a placeholder."""
    placeholder = uuid.UUID(int=0)
    prefix, _, suffix = reverse(name, args=[placeholder]).partition(str(placeholder))
    return f"({_literal(prefix)} || {column}::text || {_literal(suffix)})"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def for_rows_sql(source: str, *, kind: str, event: str, reason=None) -> tuple[str, dict]:
    """`for_row` in SQL, for the set-based passes: a SELECT of `recipient_id, kind, key, params,
    link, created_at` (what `setsql.notification_insert` takes), two rows (holder, member) per
    authorization of `source` (an alias with the authorization's columns), with the same keys,
    params and links as `for_row` builds. `event` is SQL (a quoted literal, or an expression of
    the row); `%(n_at)s` is the time written."""
    iso = setsql.datetime_text
    member_link = (
        _link_sql("family:consent-answer", "a.public_id")
        if kind == Kind.CONSENT_REQUESTED
        else _literal(reverse("family:records"))
    )
    params = (
        f"jsonb_build_object('holder', {setsql.masked_name('p.holder')}, "
        f"'member', {setsql.masked_name('p.member')}, "
        "'relation', %(n_relations)s::jsonb ->> a.relation, "
        f"'start', coalesce({iso('a.window_start', sep='T')}, ''), "
        f"'end', coalesce({iso('a.window_end', sep='T')}, '')) || "
        "CASE WHEN a.consent_deadline IS NULL THEN '{}'::jsonb ELSE "
        f"jsonb_build_object('deadline', {iso('a.consent_deadline', sep='T')}) END"
        + (" || jsonb_build_object('reason', %(n_reason)s::text)" if reason is not None else "")
    )
    sql = (
        "SELECT r.recipient_id, %(n_kind)s::text AS kind, k.key, "  # noqa: S608 - constants
        "k.params || jsonb_build_object('role', r.role) AS params, r.link, "
        f"%(n_at)s::timestamptz AS created_at FROM {source} "
        # once per authorization, then a row per side (OFFSET 0 keeps each subquery whole: a
        # flattened one is evaluated again at every reference); the names looked up by key (a
        # join here made PostgreSQL merge-join the whole persons table)
        f"CROSS JOIN LATERAL (SELECT 'authorization:' || a.public_id::text || ':' || {event} "
        f"AS key, {params} AS params FROM (SELECT "
        "(SELECT name FROM accounts_insuredperson WHERE id = a.holder_id) AS holder, "
        "(SELECT name FROM accounts_insuredperson WHERE id = a.member_id) AS member "
        "OFFSET 0) p "
        "OFFSET 0) k "
        "CROSS JOIN LATERAL (VALUES "
        f"(a.holder_id, {_literal(notices.HOLDER)}, "
        f"{_link_sql('family:authorization-detail', 'a.public_id')}), "
        f"(a.member_id, {_literal(notices.MEMBER)}, {member_link})) r(recipient_id, role, link)"
    )
    values = {
        "n_kind": str(kind),
        "n_relations": json.dumps({value: source_text(label) for value, label in Relation.choices}),
    }
    if reason is not None:
        values["n_reason"] = source_text(reason)
    return sql, values


def for_guardians(notice: Notice, guardian_ids) -> list[Notice]:
    """The member's notice, addressed to each guardian who answers for them (R22)."""
    return [
        Notice(
            recipient_id=guardian_id,
            kind=notice.kind,
            key=notice.key,
            params={**notice.params, "role": notices.GUARDIAN},
            link=notice.link,
        )
        for guardian_id in guardian_ids
    ]


def for_authorization(authorization: Authorization, **kwargs) -> list:
    row = {
        "public_id": authorization.public_id,
        "holder_id": authorization.holder_id,
        "member_id": authorization.member_id,
        "relation": authorization.relation,
        "window_start": authorization.window_start,
        "window_end": authorization.window_end,
        "consent_deadline": authorization.consent_deadline,
        "holder__name": authorization.holder.name,
        "member__name": authorization.member.name,
    }
    return for_row(row, **kwargs)


def expiring_event(window_end: dt.datetime) -> str:
    """A changed window gets its own reminder: the event names the end it warns about."""
    return f"expiring:{window_end.isoformat()}"


class Tell(NamedTuple):
    """What a scheduled pass tells both sides of each authorization it touches: `kind`, the
    `event` that names it in the notifications' key (None: the window's end, as a reminder's
    `expiring_event`) and the `reason` shown, if any. Both writers of the passes read it: in
    Python (`for_row`) and in SQL (`sql`)."""

    kind: str
    event: str | None
    reason: object = None

    def for_row(self, row: dict) -> list:
        event = self.event if self.event is not None else expiring_event(row["window_end"])
        return for_row(row, kind=self.kind, event=event, reason=self.reason)

    def sql(self, source: str) -> tuple[str, dict]:
        """`for_rows_sql` of this telling (`source` as there)."""
        event = (
            _literal(self.event)
            if self.event is not None
            else "'expiring:' || " + setsql.datetime_text("a.window_end", sep="T")
        )
        return for_rows_sql(source, kind=self.kind, event=event, reason=self.reason)
