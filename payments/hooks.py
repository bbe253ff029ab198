"""What `payments` asks of the wallet app without importing it (payments <- wallet).

A wallet (R23, R26) pays its owner's costs after their own personal account and before family
mutual aid. `wallet` registers its source in its AppConfig.ready(); until it does (and in a
project without the wallet app) no settlement draws on a wallet.

The source is called inside the settlement's transaction, after the personal accounts are
locked (accounts before wallets, always, so that settlements and transfers never deadlock):

- `available(patient)` locks the patient's open wallet and returns what it may pay, per owing
  region, in the order it pays: [(region id, amount), ...]; empty when there is no open wallet.
  Money in flight (R25) is never in it.
- `spent(settlement, line, at)` records that `line` (source `wallet`, account: the owing region's
  wallet-funds account) took `line.amount` from the wallet.
- `refunded(refund_line, at)` puts a refund of a wallet line back into the wallet (R26).

The nightly reconciliation (`payments.services.reconcile`) checks the ledger; an app that keeps
books of its own beside it (the wallet's holdings and entries, R23) registers a check with
`register_reconciliation_check`. Each check runs inside the reconciliation's transaction, on its
one snapshot (REPEATABLE READ), after the ledger's own checks: `check(run_id)` records each pair
of figures that differ as a `ReconciliationMismatch` of that run (set-based, `INSERT … SELECT`)
and returns `ReconciliationCounts(checked, mismatches)`. It never changes a balance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple, Protocol

from accounts.models import InsuredPerson

if TYPE_CHECKING:
    from .models import RefundLine, SettlementLine


class WalletSource(Protocol):
    def available(self, patient: InsuredPerson) -> list[tuple[int, Decimal]]: ...

    def spent(self, line: SettlementLine, at: dt.datetime) -> None: ...

    def refunded(self, refund_line: RefundLine, at: dt.datetime) -> None: ...


_wallet_source: WalletSource | None = None


def register_wallet_source(source: WalletSource | None) -> None:
    global _wallet_source
    _wallet_source = source


def wallet_source() -> WalletSource | None:
    return _wallet_source


class ReconciliationCounts(NamedTuple):
    checked: int  # rows the check looked at (wallets)
    mismatches: int  # ReconciliationMismatch rows it recorded


ReconciliationCheck = Callable[[int], ReconciliationCounts]

_reconciliation_checks: dict[str, ReconciliationCheck] = {}


def register_reconciliation_check(name: str, check: ReconciliationCheck | None) -> None:
    """Add (or with None, remove) the check called `name`; registering a name again replaces
    it, so an AppConfig.ready() run twice registers one check."""
    if check is None:
        _reconciliation_checks.pop(name, None)
    else:
        _reconciliation_checks[name] = check


def reconciliation_checks() -> list[ReconciliationCheck]:
    """The registered checks, in the order they were first registered."""
    return list(_reconciliation_checks.values())
