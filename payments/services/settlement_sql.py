"""A settlement's writes in one statement (issue 16 point 2): on PostgreSQL the ledger movement,
its legs, the personal balances, the settlement, its lines and its audit entry are written by one
chain of data-modifying CTEs instead of six ORM statements, each built anew per request.

The rows are the ORM's own: every value is what Django would write for the model instance
(`Field.pre_save` then `get_db_prep_save`, so defaults, `auto_now` and JSON are the same), and
only the keys the database gives (the movement's and the settlement's ids) are read from the
CTEs that insert them. `settlement._write_orm` is the same write through the ORM (SQLite, and the
reference `tests/payments/test_settlement_sql.py` compares with)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, models

from accounts.models import AuditEntry

from ..models import LedgerAccount, LedgerLeg, LedgerTransaction, Settlement, SettlementLine


def _values(objs: Sequence[models.Model], refs: dict[str, str], params: list) -> tuple[str, str]:
    """The column list and the VALUES rows of an INSERT of `objs` (one model), as Django would
    write them; a field named in `refs` takes that SQL instead (a CTE's id). Appends the
    parameters, in order, to `params`."""
    fields = [f for f in objs[0]._meta.concrete_fields if not f.primary_key]
    rows = []
    for obj in objs:
        exprs = []
        for field in fields:
            if field.attname in refs:
                exprs.append(refs[field.attname])
                continue
            exprs.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(obj, add=True), connection))
        rows.append(f"({', '.join(exprs)})")
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    return columns, ", ".join(rows)


def _insert(name: str, objs: Sequence[models.Model], refs: dict[str, str], params: list,
            returning: str = "id") -> str:  # fmt: skip
    table = connection.ops.quote_name(objs[0]._meta.db_table)
    columns, rows = _values(objs, refs, params)
    # identifiers from the models' meta, every value a parameter
    return f"{name} AS (INSERT INTO {table} ({columns}) VALUES {rows} RETURNING {returning})"  # noqa: S608


def settlement_write(
    *,
    settlement: Settlement,
    entry: LedgerTransaction | None,
    legs: list[LedgerLeg],
    lines: list[SettlementLine],
    audit: AuditEntry,
) -> None:
    """Write the settlement with its movement `entry` (None when all is cash) and the legs
    `ledger.legs_apply` checked and computed (the personal accounts locked by the caller), its
    lines and its audit entry, in one statement; sets the ids on the objects."""
    params: list[Any] = []
    parts = []
    tx_id = "NULL"
    if entry is not None:
        parts.append(_insert("tx", [entry], {}, params))
        tx_id = "(SELECT id FROM tx)"
        parts.append(_insert("legs", legs, {"transaction_id": tx_id}, params, returning="1"))
        deltas: dict[int, Decimal] = {}
        for leg in legs:
            if leg.balance_after is not None:
                deltas[leg.account_id] = deltas.get(leg.account_id, Decimal("0")) + leg.amount
        if deltas:
            rows = ", ".join("(%s::bigint, %s::numeric)" for _ in deltas)
            for pair in deltas.items():
                params.extend(pair)
            parts.append(
                "balances AS (UPDATE "  # noqa: S608 - the table's name, values as parameters
                f"{connection.ops.quote_name(LedgerAccount._meta.db_table)} a SET balance = "
                f"a.balance + d.delta FROM (VALUES {rows}) d(id, delta) WHERE a.id = d.id "
                "RETURNING 1)"
            )
    parts.append(_insert("s", [settlement], {"ledger_transaction_id": tx_id}, params))
    if lines:
        parts.append(
            _insert("lines", lines, {"settlement_id": "(SELECT id FROM s)"}, params,
                    returning="id, position")
        )  # fmt: skip
    parts.append(_insert("audit", [audit], {}, params, returning="1"))
    sql = (
        f"WITH {', '.join(parts)} SELECT (SELECT id FROM s), "  # noqa: S608 - built above
        + ("(SELECT id FROM tx), " if entry is not None else "NULL, ")
        + ("(SELECT array_agg(id ORDER BY position) FROM lines)" if lines else "NULL")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        settlement_id, entry_id, line_ids = cursor.fetchone()
    if entry is not None:
        _saved(entry, entry_id)
        settlement.ledger_transaction = entry
        for leg in legs:
            leg.transaction = entry
    _saved(settlement, settlement_id)
    for line, line_id in zip(lines, line_ids or [], strict=True):
        line.settlement = settlement
        _saved(line, line_id)


def _saved(obj: models.Model, pk: int) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
