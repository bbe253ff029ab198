"""Reads for the institution API, scoped to the institution that asks."""

from __future__ import annotations

from django.db.models import Prefetch

from accounts.models import InsuredPerson
from accounts.selectors import uuid_or_none

from ..models import Institution, Refund, Settlement, SettlementLine


def patient_by_id_number(*, id_number: str) -> InsuredPerson | None:
    """The insured person with this (already normalised) identity number, or None."""
    return InsuredPerson.objects.select_related("region").filter(id_number=id_number).first()


def settlement_get_for_institution(*, institution: Institution, public_id) -> Settlement | None:
    """A settlement of this institution with its lines and payers in payment order (two
    queries, whatever the number of lines); None for an unknown id or another's settlement."""
    public_id = uuid_or_none(public_id)
    if public_id is None:
        return None
    lines = SettlementLine.objects.select_related("payer").order_by("position")
    return (
        Settlement.objects.filter(institution=institution, public_id=public_id)
        .prefetch_related(Prefetch("lines", queryset=lines))
        .first()
    )


def settlement_key_used(*, institution: Institution, idempotency_key: str) -> bool:
    return Settlement.objects.filter(
        institution=institution, idempotency_key=idempotency_key
    ).exists()


def refund_key_used(*, settlement: Settlement, idempotency_key: str) -> bool:
    return Refund.objects.filter(settlement=settlement, idempotency_key=idempotency_key).exists()
