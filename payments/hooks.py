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
- `refunded(refund_line, at)` puts a refund of a wallet line back into the wallet (R26)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

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
