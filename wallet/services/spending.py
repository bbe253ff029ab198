"""R26: the wallet as a source of settlements, registered with payments (payments.hooks) so
that payments never imports this app. Called inside the settlement's or refund's transaction,
after the personal accounts are locked (accounts before wallets).

A wallet pays its owner's costs after their own personal account and before family mutual aid,
the oldest holding first; each settlement line of source `wallet` takes from one holding (the
line's account is that holding's region's wallet-funds account). A refund of such a line comes
back to the same wallet and holding; a closed wallet still takes it (it was open when it paid),
and then holds money again until its owner spends or it is emptied."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accounts.models import InsuredPerson
from payments.models import RefundLine, SettlementLine

from ..models import Entry, Holding, Wallet


class WalletSource:
    def available(self, patient: InsuredPerson) -> list[tuple[int, Decimal]]:
        wallet = Wallet.objects.select_for_update().filter(person_id=patient.pk).first()
        if wallet is None or not wallet.is_open or wallet.balance <= 0:
            return []
        holdings = Holding.objects.select_for_update().filter(wallet=wallet, balance__gt=0)
        return [(h.region_id, h.balance) for h in holdings.order_by("id")]

    def spent(self, line: SettlementLine, at: dt.datetime) -> None:
        settlement = line.settlement
        self._move(
            person_id=settlement.patient_id,
            region_id=line.account.region_id,
            amount=-line.amount,
            kind=Entry.Kind.SPEND,
            link={"settlement_line": line},
            description=f"{settlement.institution.name} 就医购药",
            at=at,
        )

    def refunded(self, refund_line: RefundLine, at: dt.datetime) -> None:
        line = refund_line.settlement_line
        settlement = line.settlement
        self._move(
            person_id=settlement.patient_id,
            region_id=line.account.region_id,
            amount=refund_line.amount,
            kind=Entry.Kind.REFUND,
            link={"refund_line": refund_line},
            description=f"{settlement.institution.name} 退款",
            at=at,
        )

    @staticmethod
    def _move(*, person_id, region_id, amount, kind, link, description, at) -> None:
        wallet = Wallet.objects.select_for_update().get(person_id=person_id)
        holding, _created = Holding.objects.select_for_update().get_or_create(
            wallet=wallet, region_id=region_id
        )
        holding.balance += amount  # the CHECK refuses below zero
        holding.save(update_fields=["balance"])
        wallet.balance += amount
        wallet.save(update_fields=["balance", "updated_at"])
        Entry.objects.create(
            wallet=wallet,
            kind=kind,
            amount=amount,
            balance_after=wallet.balance,
            owing_region_id=region_id,
            description=description,
            occurred_at=at,
            **link,
        )
