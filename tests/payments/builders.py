"""Small builders for the payments tests: state made through the real services."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.db.models import Sum

from payments import services
from payments.models import LedgerAccount, LedgerLeg, Settlement
from tests.clock import NOW

_keys = itertools.count(1)


def settle(institution, patient, amount, *, category="outpatient", at=NOW, key=None, body="b"):
    """Settle as the API would, with a fresh idempotency key unless one is given."""
    settlement, _created = services.settlement_create(
        institution=institution,
        patient=patient,
        category=category,
        amount=Decimal(amount),
        occurred_at=at,
        items=[],
        idempotency_key=key or f"test-{next(_keys)}",
        request_hash=body,
        at=at,
    )
    return settlement


def refund(settlement, amount, *, key=None, body="r", at=NOW):
    result, _created = services.settlement_refund(
        settlement=settlement,
        amount=Decimal(amount),
        idempotency_key=key or f"refund-{next(_keys)}",
        request_hash=body,
        at=at,
    )
    return result


def balance(person) -> Decimal:
    return LedgerAccount.objects.get(person=person).balance


def legs_total(person) -> Decimal:
    return LedgerLeg.objects.filter(account__person=person).aggregate(t=Sum("amount"))["t"]


def lines(settlement: Settlement) -> list[tuple[str, str, Decimal]]:
    """(payer name, source, amount) in payment order."""
    return [
        (line.payer.name, line.source, line.amount)
        for line in settlement.lines.select_related("payer").order_by("position")
    ]
