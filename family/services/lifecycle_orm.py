"""The writes of the scheduled passes through the ORM, for databases other than PostgreSQL: the
SQLite file `make run` starts with has none of `lifecycle_sql`'s statements (data-modifying
CTEs, `= ANY(array)`, jsonb). The same three calls, the same rows written: the batch is read
into Python, changed by one guarded UPDATE, audited by one bulk INSERT (`snapshot_values`) and
told by one more (`notify.for_row`). `tests/family/test_lifecycle_sql.py` runs a whole pass
through each writer on PostgreSQL and compares what they wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from accounts.models import AuditEntry
from accounts.services import notifications_send, snapshot_values

from ..models import Authorization, Relationship
from . import notify

_AUTH_FIELDS = [f.attname for f in Authorization._meta.concrete_fields]
_REL_FIELDS = [f.attname for f in Relationship._meta.concrete_fields]


def _audit(model, rows: list[dict], changes, *, action: str, person_key: str) -> None:
    """One audit entry per changed row, before and after (R20), in one INSERT; `changes` gives
    each row's new values."""
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                actor=None,
                channel=AuditEntry.Channel.SYSTEM,
                action=action,
                object_type=model._meta.label_lower,
                object_id=str(row["public_id"]),
                person_id=row[person_key],
                before=snapshot_values(model, row),
                after=snapshot_values(model, {**row, **changes(row)}),
            )
            for row in rows
        ],
        batch_size=2000,
    )


def _rows(ids: list[int]) -> list[dict]:
    return list(
        Authorization.objects.filter(pk__in=ids)
        .order_by("pk")
        .values(*_AUTH_FIELDS, *notify.PERSON_NAME_FIELDS)
    )


def authorizations_move(
    ids: list[int],
    *,
    expected: Iterable[str],
    to: str,
    at: dt.datetime,
    note: str | None,
    action: str,
    tell: notify.Tell,
) -> tuple[int, list[int]]:
    """As `lifecycle_sql.authorizations_move`."""
    expected = list(expected)
    rows = [row for row in _rows(ids) if row["status"] in expected]
    changes: dict = {"status": to}
    if note is not None:
        changes.update(ended_at=at, end_note=note[:200], deduction_position=None)
    moved = Authorization.objects.filter(
        pk__in=[row["id"] for row in rows], status__in=expected
    ).update(**changes)
    _audit(Authorization, rows, lambda row: changes, action=action, person_key="member_id")
    notifications_send(notices=[n for row in rows for n in tell.for_row(row)], at=at)
    return moved, sorted({row["relationship_id"] for row in rows})


def relationships_end(ids: list[int], *, at: dt.datetime, holder_gone: Iterable[str]) -> int:
    """As `lifecycle_sql.relationships_end`."""
    Reason = Relationship.EndReason
    gone = set(
        Relationship.objects.filter(pk__in=ids, holder__status__in=list(holder_gone)).values_list(
            "pk", flat=True
        )
    )
    live = set(
        Authorization.objects.filter(
            relationship_id__in=ids, status__in=Authorization.LIVE_STATUSES
        ).values_list("relationship_id", flat=True)
    )
    rows = [
        {**row, "reason": Reason.HOLDER_STATUS if row["id"] in gone else Reason.NO_MEMBERS}
        for row in Relationship.objects.filter(pk__in=ids, status=Relationship.Status.ACTIVE)
        .order_by("pk")
        .values(*_REL_FIELDS)
        if row["id"] in gone or row["id"] not in live
    ]
    for reason in (Reason.HOLDER_STATUS, Reason.NO_MEMBERS):
        Relationship.objects.filter(
            pk__in=[row["id"] for row in rows if row["reason"] == reason],
            status=Relationship.Status.ACTIVE,
        ).update(status=Relationship.Status.ENDED, ended_at=at, end_reason=reason)

    def changes(row: dict) -> dict:
        return {"status": Relationship.Status.ENDED, "ended_at": at, "end_reason": row["reason"]}

    _audit(Relationship, rows, changes, action="relationship.end", person_key="holder_id")
    return len(rows)


def authorizations_tell(ids: list[int], *, at: dt.datetime, tell: notify.Tell) -> None:
    """As `lifecycle_sql.authorizations_tell`."""
    notifications_send(notices=[n for row in _rows(ids) for n in tell.for_row(row)], at=at)
