"""Reads of the payments app, scoped to who asks."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import InsuredPerson

from ..models import ZERO, LedgerAccount


def balance_of(person: InsuredPerson) -> Decimal | None:
    """The personal-account balance of an employee-scheme person (0.00 before any credit);
    None for a resident-scheme person, who has no personal account."""
    if person.scheme != InsuredPerson.Scheme.EMPLOYEE:
        return None
    balance = (
        LedgerAccount.objects.filter(person=person, kind=LedgerAccount.Kind.PERSONAL)
        .values_list("balance", flat=True)
        .first()
    )
    return ZERO if balance is None else balance
