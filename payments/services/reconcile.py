"""Ledger reconciliation (issue 5 point 6, issue 15 point 6): for every personal account, the
legs sum to the cached balance; all legs together sum to zero; all regions' clearing payables and
receivables (R27) sum to zero; and the checks other apps register through
`payments.hooks.register_reconciliation_check` hold (the wallet app's: every wallet against its
holdings and entries, each region's wallet-funds and in-flight accounts against the holdings and
the pending transfers, R23, R25). A mismatch is recorded and shown to staff, never silently
fixed: this module writes runs and mismatch rows, and no balance, ever.

PostgreSQL only (the `make run` demo on SQLite skips with a warning). The run is one REPEATABLE
READ transaction, so every check of it reads one snapshot: a transfer accepted or a settlement
committed while it runs is seen whole by all of them or by none (a check comparing the wallets'
holdings with the ledger gives no false mismatch). The guard is an advisory lock."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.services import audit_record

from .. import hooks
from ..models import (
    ZERO,
    LedgerAccount,
    LedgerLeg,
    ReconciliationMismatch,
    ReconciliationRun,
)

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key of the reconciliation: any fixed bigint no other lock uses
# ("recon" in ASCII).
LOCK_KEY = 0x7265636F6E
# How many mismatches the ERROR log line names (all are in the table and the admin).
LOGGED_MISMATCHES = 20

# Test-only hook: called while the lock is held, before the check. Production never sets it;
# the concurrency test sets it to hold the lock until the other run has given up.
pause_after_lock: Callable[[], None] | None = None

_CHECK_SQL = """
WITH per_account AS (
    SELECT account_id, SUM(amount) AS total FROM {leg} GROUP BY account_id
), personal AS (
    SELECT a.id AS account_id, a.region_id, a.balance, COALESCE(p.total, 0) AS ledger_sum
    FROM {account} a LEFT JOIN per_account p ON p.account_id = a.id
    WHERE a.kind = %(personal)s
), recorded AS (
    INSERT INTO {mismatch}
        (run_id, kind, account_id, region_id, balance, ledger_sum, difference,
         last_balance_after)
    SELECT %(run)s, %(personal)s, s.account_id, s.region_id, s.balance, s.ledger_sum,
           s.balance - s.ledger_sum,
           (SELECT l.balance_after FROM {leg} l
             WHERE l.account_id = s.account_id ORDER BY l.id DESC LIMIT 1)
    FROM personal s
    WHERE s.balance IS DISTINCT FROM s.ledger_sum
    RETURNING 1
), clearing AS (
    SELECT COALESCE(SUM(p.total) FILTER (WHERE a.kind = %(payable)s), 0) AS payables,
           COALESCE(SUM(p.total) FILTER (WHERE a.kind = %(receivable)s), 0) AS receivables
    FROM per_account p JOIN {account} a ON a.id = p.account_id
    WHERE a.kind IN (%(payable)s, %(receivable)s)
), clearing_recorded AS (
    -- R27: what all regions owe each other is what they are owed, to the fen
    INSERT INTO {mismatch} (run_id, kind, balance, ledger_sum, difference)
    SELECT %(run)s, %(clearing)s, c.payables, -c.receivables, c.payables + c.receivables
    FROM clearing c
    WHERE c.payables + c.receivables <> 0
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM personal),
       (SELECT COUNT(*) FROM recorded) + (SELECT COUNT(*) FROM clearing_recorded),
       (SELECT COALESCE(SUM(total), 0) FROM per_account)
"""


def ledger_reconcile(*, at: dt.datetime | None = None) -> ReconciliationRun | None:
    """Check every personal account; returns the run, or None when another run holds the lock
    (that one is doing the work; a second run at the same moment would only repeat it).

    One set-based statement compares every personal account's balance with the sum of its legs,
    records the mismatches (`INSERT … SELECT` inside the statement, so memory stays flat however
    many accounts there are: Python reads three numbers) and sums all legs. A single statement
    sees one snapshot, and a settlement writes its legs and the balances it changes in one
    transaction, so running during live settlements gives no false mismatch: each settlement is
    seen whole or not at all. Nothing takes a row lock, so settlements never wait for this.

    `pg_try_advisory_xact_lock` (held until this transaction ends) lets one run at a time work;
    the other returns None at once instead of queueing behind it. Each run is audited (channel
    SYSTEM); a mismatch, or legs that do not sum to zero, is logged at ERROR."""
    if connection.vendor != "postgresql":
        logger.warning("Ledger reconciliation needs PostgreSQL; skipped on %s", connection.vendor)
        return None
    started_at = at or timezone.now()
    clock = time.monotonic()
    # Inside a test case's transaction there is no new transaction to set the level of (and no
    # other writer to see): only a run that begins its own transaction sets it.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            if own_transaction:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
            (locked,) = cursor.fetchone()
        if not locked:
            logger.info("Ledger reconciliation already running elsewhere; this run skipped")
            return None
        if pause_after_lock is not None:
            pause_after_lock()
        run = ReconciliationRun.objects.create(started_at=started_at)
        sql = _CHECK_SQL.format(
            leg=LedgerLeg._meta.db_table,
            account=LedgerAccount._meta.db_table,
            mismatch=ReconciliationMismatch._meta.db_table,
        )
        Kind = LedgerAccount.Kind
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "run": run.pk,
                    "personal": Kind.PERSONAL,
                    "payable": Kind.CLEARING_PAYABLE,
                    "receivable": Kind.CLEARING_RECEIVABLE,
                    "clearing": ReconciliationMismatch.Kind.CLEARING,
                },
            )
            checked, mismatches, ledger_total = cursor.fetchone()
        wallets = 0
        for check in hooks.reconciliation_checks():
            counts = check(run.pk)
            wallets += counts.checked
            mismatches += counts.mismatches
        run.accounts_checked = checked
        run.wallets_checked = wallets
        run.mismatch_count = mismatches
        run.ledger_total = ledger_total
        run.ok = mismatches == 0 and ledger_total == ZERO
        run.finished_at = started_at + dt.timedelta(seconds=time.monotonic() - clock)
        run.save(
            update_fields=[
                "accounts_checked",
                "wallets_checked",
                "mismatch_count",
                "ledger_total",
                "ok",
                "finished_at",
            ]
        )
        audit_record(
            actor=None,
            channel=AuditEntry.Channel.SYSTEM,
            action="ledger.reconcile",
            obj=run,
            after={
                "accounts_checked": checked,
                "wallets_checked": wallets,
                "mismatch_count": mismatches,
                "ledger_total": f"{ledger_total:.2f}",
                "ok": run.ok,
            },
        )
    if not run.ok:
        _log_problems(run)
    return run


def _log_problems(run: ReconciliationRun) -> None:
    if run.ledger_total != ZERO:
        logger.error(
            "Ledger reconciliation %s: all legs sum to %s, not 0", run.pk, run.ledger_total
        )
    mismatches = ReconciliationMismatch.objects.filter(run=run)
    personal = mismatches.filter(kind=ReconciliationMismatch.Kind.PERSONAL)
    if count := personal.count():
        first = personal.select_related("account").order_by("account_id")[:LOGGED_MISMATCHES]
        logger.error(
            "Ledger reconciliation %s: %s personal account(s) differ from their legs "
            "(balance left unchanged; see the admin): %s",
            run.pk,
            count,
            "; ".join(
                f"account {getattr(m.account, 'public_id', '')} balance {m.balance} "
                f"legs {m.ledger_sum}"
                for m in first
            ),
        )
    others = mismatches.exclude(kind=ReconciliationMismatch.Kind.PERSONAL)
    if count := others.count():
        first = others.select_related("person", "region").order_by(
            "kind", "person_id", "region_id"
        )[:LOGGED_MISMATCHES]
        logger.error(
            "Ledger reconciliation %s: %s wallet or clearing figure(s) differ "
            "(nothing changed; see the admin): %s",
            run.pk,
            count,
            "; ".join(_described(m) for m in first),
        )


def _described(mismatch: ReconciliationMismatch) -> str:
    """A wallet or clearing mismatch for the log: what differs, where, and the two figures."""
    parts = []
    if mismatch.person is not None:
        parts.append(f"wallet of person {mismatch.person.public_id}")
    if mismatch.region is not None:
        parts.append(f"region {mismatch.region.code}")
    where = " ".join(parts) or "all regions"
    return f"{mismatch.kind} {where}: {mismatch.balance} against {mismatch.ledger_sum}"
