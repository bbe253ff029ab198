"""The statements of the scheduled passes (issue 16 point 3): one batch of authorizations moved,
audited and told in one SQL statement, and the relationships they leave empty ended and audited
in another. `lifecycle` chooses and locks the batches; this module only writes.

Each statement is a chain of data-modifying CTEs: `old` reads the locked rows, the UPDATE returns
them changed with the picture of each before the change, and the audit entries (R20) and the
notifications (`notify.for_rows_sql`, once each) are inserted from what it returned, so no row
travels to Python and back. The JSON written is the same as the Python builders' (`setsql`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection

from accounts.services import setsql

from ..models import Authorization, Relationship
from . import notify

AUTH = Authorization._meta.db_table
REL = Relationship._meta.db_table
LIVE = [str(s) for s in Authorization.LIVE_STATUSES]
# JIT compiles each of these statements anew (about 57 ms a batch, bench/README.md) for plans
# that are index lookups and small sorts: off for the batch's transaction.
NO_JIT = "SET LOCAL jit = off"


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
    """Move the locked authorizations `ids` still in an `expected` status to `to` (ending them,
    with `note`, when `note` is not None), audit each and tell both sides as `tell` says.
    Returns how many moved and the ids of
    their relationships."""
    ending = note is not None
    sets = "status = %(to)s" + (
        ", ended_at = %(at)s, end_note = %(note)s, deduction_position = NULL" if ending else ""
    )
    told, told_params = tell.sql("a")
    sql = (
        f'WITH old AS (SELECT * FROM "{AUTH}" WHERE id = ANY(%(ids)s::bigint[]) '
        "AND status = ANY(%(expected)s::text[])), "
        # t.id = ANY(ids) as well: with `old` inlined, PostgreSQL hash-joined it to a
        # sequential scan of the whole table (bench/README.md)
        f'a AS (UPDATE "{AUTH}" t SET {sets} FROM old WHERE t.id = old.id '
        "AND t.id = ANY(%(ids)s::bigint[]) "
        f"RETURNING t.*, {setsql.before_returned(Authorization, 'old')}), "
        "audit AS ("
        + setsql.audit_insert(
            Authorization,
            changed_rows="a",
            changed={"status", "ended_at", "end_note", "deduction_position"},
            person="member_id",
            action="action",
        )
        + "), told AS ("
        + setsql.notification_insert(source=told)
        + ") SELECT count(*), coalesce(array_agg(DISTINCT relationship_id), '{}') FROM a"
    )
    params = {
        "ids": ids,
        "expected": list(expected),
        "to": to,
        "at": at,
        "note": (note or "")[:200],
        "action": action,
        "n_at": at,
        **told_params,
    }
    with connection.cursor() as cursor:
        cursor.execute(NO_JIT)
        cursor.execute(sql, params)
        moved, relationship_ids = cursor.fetchone()
    return moved, list(relationship_ids)


def relationships_end(ids: list[int], *, at: dt.datetime, holder_gone: Iterable[str]) -> int:
    """End the locked active relationships `ids` whose holder's status is one of `holder_gone`
    (R14: reason `holder_status`) or that have no live member left (R5: `no_members`), and audit
    each. The caller holds their locks, taken before this statement looks (a member bound
    meanwhile is seen). Returns how many ended."""
    Reason = Relationship.EndReason
    sql = (
        "WITH old AS (SELECT r.*, CASE WHEN h.status = ANY(%(gone)s::text[]) "
        "THEN %(holder_status)s ELSE %(no_members)s END AS reason "
        f'FROM "{REL}" r JOIN accounts_insuredperson h ON h.id = r.holder_id '
        "WHERE r.id = ANY(%(ids)s::bigint[]) AND r.status = %(active)s AND "
        "(h.status = ANY(%(gone)s::text[]) OR NOT EXISTS (SELECT 1 FROM "
        f'"{AUTH}" a WHERE a.relationship_id = r.id AND a.status = ANY(%(live)s::text[])))), '
        f'e AS (UPDATE "{REL}" t SET status = %(ended)s, ended_at = %(at)s, '
        "end_reason = old.reason FROM old WHERE t.id = old.id AND t.id = ANY(%(ids)s::bigint[]) "
        f"RETURNING t.*, {setsql.before_returned(Relationship, 'old')}), audit AS ("
        + setsql.audit_insert(
            Relationship,
            changed_rows="e",
            changed={"status", "ended_at", "end_reason"},
            person="holder_id",
            action="action",
        )
        + ") SELECT count(*) FROM e"
    )
    params: dict[str, Any] = {
        "ids": ids,
        "gone": list(holder_gone),
        "holder_status": str(Reason.HOLDER_STATUS),
        "no_members": str(Reason.NO_MEMBERS),
        "active": str(Relationship.Status.ACTIVE),
        "ended": str(Relationship.Status.ENDED),
        "live": LIVE,
        "at": at,
        "action": "relationship.end",
    }
    with connection.cursor() as cursor:
        cursor.execute(NO_JIT)
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def authorizations_tell(ids: list[int], *, at: dt.datetime, tell: notify.Tell) -> None:
    """Tell both sides of the authorizations `ids` (no change of state: the reminders)."""
    told, told_params = tell.sql(f'(SELECT * FROM "{AUTH}" WHERE id = ANY(%(ids)s::bigint[])) a')
    with connection.cursor() as cursor:
        cursor.execute(
            setsql.notification_insert(source=told), {"ids": ids, "n_at": at, **told_params}
        )
