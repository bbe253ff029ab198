"""The wallet's part of the nightly reconciliation (issue 15 point 6; R23, R25, R27), registered
with payments (`payments.hooks.register_reconciliation_check`, in WalletConfig.ready()) so that
payments never imports this app. Called inside the reconciliation's REPEATABLE READ
transaction, so it reads the same snapshot as the ledger's checks; records each pair of figures
that differ as a `payments.ReconciliationMismatch` of the run, to the fen, and changes nothing.

The checks:
- every wallet: its balance against the sum of its holdings, the sum of its entries and its
  last entry's balance_after (kinds wallet_holdings, wallet_entries, wallet_last_entry);
- every holding: its balance against the sum of the wallet's entries owed by its region
  (holding_entries);
- per owing region: the sum of all wallets' holdings against the legs of that region's
  wallet-funds account (wallet_funds);
- per region: the sum of the pending transfers it sent against the legs of its in-flight
  account (wallet_in_flight).

One statement: every figure is an aggregate in a CTE, the mismatches one `INSERT … SELECT`, so
memory stays flat however many wallets there are."""

from __future__ import annotations

from django.db import connection

from accounts.models import InsuredPerson
from payments.hooks import ReconciliationCounts
from payments.models import LedgerAccount, LedgerLeg, ReconciliationMismatch

from ..models import Entry, Holding, Transfer, Wallet

_SQL = """
WITH holdings AS (
    SELECT wallet_id, SUM(balance) AS total FROM {holding} GROUP BY wallet_id
), entries AS (
    SELECT wallet_id, SUM(amount) AS total FROM {entry} GROUP BY wallet_id
), last_entry AS (
    SELECT DISTINCT ON (wallet_id) wallet_id, balance_after
    FROM {entry} ORDER BY wallet_id, id DESC
), wallets AS (
    SELECT w.id, w.person_id, p.region_id, w.balance,
           COALESCE(h.total, 0) AS holdings, COALESCE(e.total, 0) AS entries,
           COALESCE(l.balance_after, 0) AS last_after, l.balance_after AS last_or_null
    FROM {wallet} w
    JOIN {person} p ON p.id = w.person_id
    LEFT JOIN holdings h ON h.wallet_id = w.id
    LEFT JOIN entries e ON e.wallet_id = w.id
    LEFT JOIN last_entry l ON l.wallet_id = w.id
), per_holding AS (
    SELECT COALESCE(h.wallet_id, e.wallet_id) AS wallet_id,
           COALESCE(h.region_id, e.owing_region_id) AS region_id,
           COALESCE(h.balance, 0) AS balance, COALESCE(e.total, 0) AS entries
    FROM {holding} h
    FULL JOIN (SELECT wallet_id, owing_region_id, SUM(amount) AS total
               FROM {entry} GROUP BY wallet_id, owing_region_id) e
      ON e.wallet_id = h.wallet_id AND e.owing_region_id = h.region_id
), bureau AS (
    SELECT a.id AS account_id, a.kind, a.region_id, COALESCE(SUM(l.amount), 0) AS legs
    FROM {account} a LEFT JOIN {leg} l ON l.account_id = a.id
    WHERE a.kind IN (%(funds)s, %(in_flight)s)
    GROUP BY a.id, a.kind, a.region_id
), funds AS (
    SELECT COALESCE(b.region_id, h.region_id) AS region_id, b.account_id,
           COALESCE(h.total, 0) AS held, COALESCE(b.legs, 0) AS legs
    FROM (SELECT * FROM bureau WHERE kind = %(funds)s) b
    FULL JOIN (SELECT region_id, SUM(balance) AS total FROM {holding} GROUP BY region_id) h
      ON h.region_id = b.region_id
), in_flight AS (
    SELECT COALESCE(b.region_id, t.region_id) AS region_id, b.account_id,
           COALESCE(t.total, 0) AS pending, COALESCE(b.legs, 0) AS legs
    FROM (SELECT * FROM bureau WHERE kind = %(in_flight)s) b
    FULL JOIN (SELECT owing_region_id AS region_id, SUM(amount) AS total FROM {transfer}
               WHERE status = %(pending)s GROUP BY owing_region_id) t
      ON t.region_id = b.region_id
), found (kind, account_id, person_id, region_id, balance, ledger_sum, last_after) AS (
    SELECT %(k_holdings)s, NULL::bigint, person_id, region_id, balance, holdings, last_or_null
      FROM wallets WHERE balance <> holdings
    UNION ALL
    SELECT %(k_entries)s, NULL, person_id, region_id, balance, entries, last_or_null
      FROM wallets WHERE balance <> entries
    UNION ALL
    SELECT %(k_last)s, NULL, person_id, region_id, balance, last_after, last_or_null
      FROM wallets WHERE balance <> last_after
    UNION ALL
    SELECT %(k_holding)s, NULL, w.person_id, ph.region_id, ph.balance, ph.entries, NULL
      FROM per_holding ph JOIN {wallet} w ON w.id = ph.wallet_id
     WHERE ph.balance <> ph.entries
    UNION ALL
    SELECT %(k_funds)s, account_id, NULL, region_id, held, legs, NULL
      FROM funds WHERE held <> legs
    UNION ALL
    SELECT %(k_in_flight)s, account_id, NULL, region_id, pending, legs, NULL
      FROM in_flight WHERE pending <> legs
), recorded AS (
    INSERT INTO {mismatch}
        (run_id, kind, account_id, person_id, region_id, balance, ledger_sum, difference,
         last_balance_after)
    SELECT %(run)s, kind, account_id, person_id, region_id, balance, ledger_sum,
           balance - ledger_sum, last_after
    FROM found
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM wallets), (SELECT COUNT(*) FROM recorded)
"""


def wallets_reconcile(run_id: int) -> ReconciliationCounts:
    """Check every wallet, holding and region's wallet accounts for the run `run_id`; returns
    how many wallets were checked and how many mismatches were recorded."""
    Kind = ReconciliationMismatch.Kind
    sql = _SQL.format(
        holding=Holding._meta.db_table,
        entry=Entry._meta.db_table,
        wallet=Wallet._meta.db_table,
        person=InsuredPerson._meta.db_table,
        transfer=Transfer._meta.db_table,
        account=LedgerAccount._meta.db_table,
        leg=LedgerLeg._meta.db_table,
        mismatch=ReconciliationMismatch._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "run": run_id,
                "funds": LedgerAccount.Kind.WALLET_FUNDS,
                "in_flight": LedgerAccount.Kind.WALLET_IN_FLIGHT,
                "pending": Transfer.Status.PENDING,
                "k_holdings": Kind.WALLET_HOLDINGS,
                "k_entries": Kind.WALLET_ENTRIES,
                "k_last": Kind.WALLET_LAST_ENTRY,
                "k_holding": Kind.HOLDING_ENTRIES,
                "k_funds": Kind.WALLET_FUNDS,
                "k_in_flight": Kind.WALLET_IN_FLIGHT,
            },
        )
        checked, recorded = cursor.fetchone()
    return ReconciliationCounts(checked=checked, mismatches=recorded)
