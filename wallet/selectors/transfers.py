"""Reads about transfers (R24, R25): what the limits count, what a sender may send now, and the
transfers a person sees, scoped to the person who asks (sender or recipient), never by an id
alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, QuerySet

from accounts.models import InsuredPerson
from payments.models import ZERO, LedgerAccount

from ..models import Transfer
from ..rules import day_bounds


def sent_on_day(*, sender: InsuredPerson, at: dt.datetime) -> int:
    """R24: transfers the sender sent on the local day of `at`, whatever became of them."""
    start, end = day_bounds(at)
    return Transfer.objects.filter(sender=sender, sent_at__gte=start, sent_at__lt=end).count()


def pending_sent(*, sender: InsuredPerson) -> Transfer | None:
    """R24: the sender's one pending transfer, if any."""
    return Transfer.objects.filter(sender=sender, status=Transfer.Status.PENDING).first()


def transferable(*, account: LedgerAccount, sender: InsuredPerson) -> tuple[Decimal, Decimal]:
    """(what may be sent, the floor kept): the balance above the sender region's retained floor
    (R21, R24)."""
    floor = sender.region.retained_floor or ZERO
    balance = account.balance or ZERO
    return max(balance - floor, ZERO), floor


def transfers_for(*, person: InsuredPerson) -> QuerySet[Transfer]:
    """Transfers the person sent or received, newest first, with what the lists show."""
    return (
        Transfer.objects.filter(Q(sender=person) | Q(wallet__person=person))
        .select_related("sender", "wallet__person", "owing_region")
        .order_by("-sent_at", "-id")
    )


def transfer_for(*, person: InsuredPerson, public_id) -> Transfer | None:
    """One transfer by its public id, only if `person` sent or received it."""
    return transfers_for(person=person).filter(public_id=public_id).first()


def pending_received(*, person: InsuredPerson) -> list[Transfer]:
    return list(
        transfers_for(person=person).filter(wallet__person=person, status=Transfer.Status.PENDING)
    )
