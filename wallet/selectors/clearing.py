"""Reads of clearing (R27) for staff, narrowed to the regions the staff member serves: a batch is
theirs when either side is one of their regions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from accounts.models import RegionPolicy
from accounts.selectors import staff_region_ids
from payments.models import (
    ZERO,
    LedgerAccount,
    LedgerLeg,
    PremiumPaymentLine,
    RefundLine,
    SettlementLine,
)

from ..models import ClearingBatch, ClearingLine


def batches_for_staff(*, user) -> QuerySet[ClearingBatch]:
    regions = staff_region_ids(user=user)
    batches = ClearingBatch.objects.select_related("payer_region", "payee_region")
    if regions is None:
        return batches
    return batches.filter(Q(payer_region__in=regions) | Q(payee_region__in=regions))


def batch_for_staff(*, user, public_id) -> ClearingBatch | None:
    return batches_for_staff(user=user).filter(public_id=public_id).first()


def batch_lines(batch: ClearingBatch) -> QuerySet[ClearingLine]:
    """The lines with what the page and the CSV show: the settlement, its institution and the
    patient (masked where shown)."""
    return batch.lines.select_related(
        "owing_region",
        "owed_region",
        "settlement_line__settlement__institution",
        "settlement_line__settlement__patient",
        "refund_line__refund__settlement__institution",
        "refund_line__refund__settlement__patient",
        "premium_line__payment__member",
    ).order_by("occurred_at", "id")


def unbatched_movements(*, before: dt.datetime | None = None) -> list[dict]:
    """Cross-region wallet spends and premiums (+) and refunds (−) in no batch yet: owing
    region, owed region, amount, the line and when. Three queries whatever their number."""
    spends = SettlementLine.objects.filter(
        source=SettlementLine.Source.WALLET, clearing_line__isnull=True
    ).exclude(account__region_id=F("settlement__institution__region_id"))
    refunds = RefundLine.objects.filter(
        settlement_line__source=SettlementLine.Source.WALLET, clearing_line__isnull=True
    ).exclude(
        settlement_line__account__region_id=F("settlement_line__settlement__institution__region_id")
    )
    premiums = PremiumPaymentLine.objects.filter(
        account__kind=LedgerAccount.Kind.WALLET_FUNDS, clearing_line__isnull=True
    ).exclude(account__region_id=F("payment__member__region_id"))
    if before is not None:
        # the movement's own time (its ledger transaction's), not when the row was written
        spends = spends.filter(settlement__ledger_transaction__occurred_at__lt=before)
        refunds = refunds.filter(refund__ledger_transaction__occurred_at__lt=before)
        premiums = premiums.filter(payment__paid_at__lt=before)
    rows = [
        {"owing": owing, "owed": owed, "amount": amount, "settlement_line_id": pk, "at": at}
        for pk, owing, owed, amount, at in spends.values_list(
            "pk", "account__region_id", "settlement__institution__region_id", "amount",
            "settlement__ledger_transaction__occurred_at",
        )
    ]  # fmt: skip
    rows += [
        {"owing": owing, "owed": owed, "amount": -amount, "refund_line_id": pk, "at": at}
        for pk, owing, owed, amount, at in refunds.values_list(
            "pk", "settlement_line__account__region_id",
            "settlement_line__settlement__institution__region_id", "amount",
            "refund__ledger_transaction__occurred_at",
        )
    ]  # fmt: skip
    rows += [
        {"owing": owing, "owed": owed, "amount": amount, "premium_line_id": pk, "at": at}
        for pk, owing, owed, amount, at in premiums.values_list(
            "pk", "account__region_id", "payment__member__region_id", "amount", "payment__paid_at"
        )
    ]
    return rows


SPEND_LABEL = _("就医购药支付")
REFUND_LABEL = _("结算退款")
PREMIUM_LABEL = _("缴纳居民医保费")
PREMIUM_PAYEE = _("%(region)s城乡居民医保基金")


def line_facts(line: ClearingLine) -> tuple[str, str, str, str]:
    """(kind, reference, paid to, the person's masked name) of a line, for its page and CSV."""
    if line.premium_line is not None:
        payment = line.premium_line.payment
        payee = str(PREMIUM_PAYEE) % {"region": line.owed_region.name}
        return str(PREMIUM_LABEL), str(payment.public_id), payee, payment.member.masked_name
    if line.settlement_line is not None:
        settlement = line.settlement_line.settlement
        kind = SPEND_LABEL
    else:
        assert line.refund_line is not None  # clearingline_spend_or_refund
        settlement = line.refund_line.refund.settlement
        kind = REFUND_LABEL
    return (
        str(kind),
        str(settlement.public_id),
        settlement.institution.name,
        settlement.patient.masked_name,
    )


@dataclass(frozen=True)
class Position:
    """One region's clearing position (R27): its ledger balances, and what it owes or is owed by
    each other region in what no settled batch holds yet (positive: it owes)."""

    region: RegionPolicy
    payable: Decimal
    receivable: Decimal
    # (other region, True when this region owes it, the amount, never negative)
    by_counterparty: list[tuple[RegionPolicy, bool, Decimal]]

    @property
    def net(self) -> Decimal:
        return self.payable + self.receivable


def positions_for_staff(*, user) -> list[Position]:
    """A constant few queries: the clearing legs summed per account, and the open lines (in no
    batch yet, or in an open batch) summed per direction."""
    regions = staff_region_ids(user=user)
    scope = RegionPolicy.objects.order_by("code")
    if regions is not None:
        scope = scope.filter(pk__in=regions)
    shown = {region.pk: region for region in scope}
    sums = _clearing_sums(shown)
    directions: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    open_lines = ClearingLine.objects.filter(batch__status=ClearingBatch.Status.OPEN)
    for owing, owed, total in open_lines.values_list("owing_region", "owed_region").annotate(
        total=Sum("amount")
    ):
        directions[(owing, owed)] += total
    for row in unbatched_movements():
        directions[(row["owing"], row["owed"])] += row["amount"]
    others = {r.pk: r for r in RegionPolicy.objects.all()}
    positions = []
    for region_id, region in shown.items():
        net: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for (owing, owed), amount in directions.items():
            if owing == region_id:
                net[owed] += amount
            elif owed == region_id:
                net[owing] -= amount
        positions.append(
            Position(
                region=region,
                payable=sums.get((region_id, LedgerAccount.Kind.CLEARING_PAYABLE), ZERO),
                receivable=sums.get((region_id, LedgerAccount.Kind.CLEARING_RECEIVABLE), ZERO),
                by_counterparty=[
                    (others[other], amount > 0, abs(amount))
                    for other, amount in sorted(net.items(), key=lambda kv: others[kv[0]].code)
                    if amount != 0
                ],
            )
        )
    return positions


def _clearing_sums(regions: dict[int, RegionPolicy]) -> dict[tuple[int, str], Decimal]:
    rows = (
        LedgerLeg.objects.filter(
            account__kind__in=[
                LedgerAccount.Kind.CLEARING_PAYABLE,
                LedgerAccount.Kind.CLEARING_RECEIVABLE,
            ],
            account__region__in=list(regions),
        )
        .values_list("account__region", "account__kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {(region, kind): total for region, kind, total in rows}
