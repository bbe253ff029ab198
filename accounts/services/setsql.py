"""The audit trail and the inbox written in SQL, for the set-based passes (issue 16 point 3).

A pass that changes 1,000,000 rows cannot build 1,000,000 snapshots and 2,000,000 notifications in
Python and still finish in a minute. These builders give the SQL that writes, inside PostgreSQL, the
same JSON that `snapshot_values` and the notice builders write from Python: the same keys, the same
text for every value (a timestamp as `str(datetime)` prints it in UTC, a UUID, a date or a decimal
as text, a number or a boolean as itself, NULL as null). `tests/accounts/test_setsql.py` holds the
two side by side on generated rows.

Only the field types the callers' models use are known; any other type raises, rather than writing
a snapshot that differs from the Python one."""

from __future__ import annotations

from typing import Any

from ..models import AuditEntry, Notification

AS_TEXT = {"UUIDField", "DateField", "DecimalField"}  # str(value) == PostgreSQL's ::text
AS_IS = {
    "AutoField",
    "BigAutoField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "BigIntegerField",
    "OneToOneField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def datetime_text(expression: str, *, sep: str = " ") -> str:
    """SQL text of a timestamptz as Python prints an aware UTC datetime: `str()` (sep " ") or
    `isoformat()` (sep "T"); microseconds only when there are any, as Python does (the fixed
    format can hold `.000000` only there). NULL stays NULL."""
    return (
        f"(replace(to_char({expression} AT TIME ZONE 'UTC', "
        f"'YYYY-MM-DD\"{sep}\"HH24:MI:SS.US'), '.000000', '') || '+00:00')"
    )


def snapshot(model: Any, alias: str, *, only: set[str] | None = None) -> str:
    """SQL jsonb of `accounts.services.snapshot_values(model, row)` for the row `alias` (with
    `only`, of those attnames alone: `snapshot(before) || snapshot(after, only=changed)` is the
    after picture at half the cost)."""
    parts = []
    for field in model._meta.concrete_fields:
        if only is not None and field.attname not in only:
            continue
        if field.name == "password":
            continue
        if field.name == "id_number":  # masked in Python; no set-based writer needs it yet
            raise TypeError(f"{model.__name__}: no SQL snapshot masks identity numbers")
        column = f'{alias}."{field.column}"'
        kind = field.get_internal_type()
        if kind == "DateTimeField":
            value = datetime_text(column)
        elif kind in AS_TEXT:
            value = f"{column}::text"
        elif kind in AS_IS:
            value = column
        else:
            raise TypeError(f"{model.__name__}.{field.name}: no SQL snapshot for {kind}")
        parts.append(f"'{field.name}', {value}")
    if len(parts) > 50:  # jsonb_build_object takes at most 100 arguments
        raise TypeError(f"{model.__name__}: too many fields for one jsonb_build_object")
    return f"jsonb_build_object({', '.join(parts)})"


BEFORE = "audit_before"


def before_returned(model: Any, alias: str) -> str:
    """What an UPDATE … FROM `alias` RETURNING adds for `audit_insert`: the picture of the row
    before the change (`alias` is the FROM table holding it), in a column named `BEFORE`."""
    return f"{snapshot(model, alias)} AS {BEFORE}"


def audit_insert(
    model: Any, *, changed_rows: str, changed: set[str], person: str | None, action: str
) -> str:
    """SQL `INSERT … SELECT` of one system audit entry per row of `changed_rows` (R20), written
    by a set-based pass: an UPDATE's RETURNING of the changed row and `before_returned`. The
    after picture is the before one with the attnames in `changed` read again from the changed
    row. `person` is the column naming the person concerned; `action` a parameter name
    (`%(action)s` in the statement)."""
    after = changed_rows
    return (
        f'INSERT INTO "{AuditEntry._meta.db_table}" '
        "(at, actor_id, channel, action, object_type, object_id, person_id, before, after) "
        f"SELECT statement_timestamp(), NULL, '{AuditEntry.Channel.SYSTEM}', %({action})s, "
        f"'{model._meta.label_lower}', {after}.public_id::text, "
        f"{f'{after}.{person}' if person else 'NULL'}, {after}.{BEFORE}, "
        f"{after}.{BEFORE} || {snapshot(model, after, only=changed)} FROM {changed_rows}"
    )


def notification_insert(*, source: str) -> str:
    """SQL `INSERT … SELECT` of notifications, once each (ON CONFLICT DO NOTHING on recipient and
    key, as `notifications_send`). `source` yields the columns `recipient_id, kind, key, params,
    link, created_at`."""
    return (
        f'INSERT INTO "{Notification._meta.db_table}" '
        "(public_id, recipient_id, kind, key, params, link, created_at, read_at, email_status, "
        "emailed_at) SELECT gen_random_uuid(), s.recipient_id, s.kind, left(s.key, 160), "
        f"s.params, s.link, s.created_at, NULL, '{Notification.EmailStatus.PENDING}', NULL "
        f"FROM ({source}) s ON CONFLICT DO NOTHING"
    )


def masked_name(expression: str) -> str:
    """SQL of `accounts.models.mask_name`: 王建国 -> 王*国, 张伟 -> 张*."""
    return (
        f"(CASE WHEN char_length({expression}) <= 2 THEN left({expression}, 1) || '*' "
        f"ELSE left({expression}, 1) || repeat('*', char_length({expression}) - 2) || "
        f"right({expression}, 1) END)"
    )
