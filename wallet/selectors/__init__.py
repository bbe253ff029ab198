"""Reads of the wallet pages (R23), scoped to the person who asks: a citizen reads only their
own wallet, found through their own insured person, never through an id in the URL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from accounts.models import InsuredPerson

from ..errors import (
    WALLET_ALREADY_OPEN,
    WALLET_NOT_EMPTY,
    WALLET_NOT_OFFERED,
    WALLET_NOT_OPEN,
    WALLET_PERSON_NOT_NORMAL,
    WALLET_TRANSFER_PENDING,
)
from ..models import Entry, Holding, Transfer, Wallet


def wallet_for_person(*, person: InsuredPerson) -> Wallet | None:
    """The person's wallet, open or closed; None if they never opened one."""
    return Wallet.objects.filter(person_id=person.pk).first()


def insured_place(person: InsuredPerson) -> str:
    """参保地 as the open page asks the person to confirm it: 江苏省南京市（320100）."""
    region = person.region
    return f"{region.province_name}{region.name}（{region.code}）"


def open_refusal(*, person: InsuredPerson, wallet: Wallet | None) -> ValidationError | None:
    """Why `person` may not open a wallet now (R23), or None: the region offers wallets, the
    person is in normal status and has no open wallet. The confirmations are the form's."""
    if wallet is not None and wallet.is_open:
        return ValidationError(WALLET_ALREADY_OPEN, code="wallet_already_open")
    if not person.region.wallet_enabled:
        return ValidationError(WALLET_NOT_OFFERED, code="wallet_not_offered")
    if person.status != InsuredPerson.Status.NORMAL:
        return ValidationError(WALLET_PERSON_NOT_NORMAL, code="wallet_person_not_normal")
    return None


def close_refusal(*, wallet: Wallet | None) -> ValidationError | None:
    """Why the wallet may not close now (R23: only when empty and nothing is pending), or None.

    Pending: a transfer sent to this wallet and not yet accepted, declined or returned (R25)."""
    if wallet is None or not wallet.is_open:
        return ValidationError(WALLET_NOT_OPEN, code="wallet_not_open")
    if wallet.balance != 0:
        return ValidationError(WALLET_NOT_EMPTY, code="wallet_not_empty")
    if Transfer.objects.filter(wallet=wallet, status=Transfer.Status.PENDING).exists():
        return ValidationError(WALLET_TRANSFER_PENDING, code="wallet_transfer_pending")
    return None


@dataclass(frozen=True)
class WalletPage:
    """What the wallet pages show: the person's wallet (or None), the place and the masked phone
    they confirm, and why opening or closing would be refused now (None: it would not)."""

    person: InsuredPerson
    wallet: Wallet | None
    insured_place: str
    masked_phone: str
    open_refusal: ValidationError | None
    close_refusal: ValidationError | None

    @property
    def is_open(self) -> bool:
        return self.wallet is not None and self.wallet.is_open

    @property
    def open_message(self) -> str:
        return self.open_refusal.messages[0] if self.open_refusal else ""

    @property
    def close_message(self) -> str:
        return self.close_refusal.messages[0] if self.close_refusal else ""


def wallet_page(*, person: InsuredPerson) -> WalletPage:
    """The context of the overview, open and close pages (`person` read with its region)."""
    wallet = wallet_for_person(person=person)
    return WalletPage(
        person=person,
        wallet=wallet,
        insured_place=insured_place(person),
        masked_phone=person.masked_phone,
        open_refusal=open_refusal(person=person, wallet=wallet),
        close_refusal=close_refusal(wallet=wallet),
    )


def holdings_of(*, wallet: Wallet | None) -> list[Holding]:
    """The parts of a wallet owed by each region's fund (R23), with their region, oldest first;
    the empty ones (all spent) left out."""
    if wallet is None:
        return []
    return list(wallet.holdings.filter(balance__gt=0).select_related("region").order_by("id"))


def entries_for(
    *,
    person: InsuredPerson,
    kind: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Entry]:
    """The entries of the person's own wallet (R23), newest first, each with the region that owes
    it; dates are the local (Asia/Shanghai) dates the money moved."""
    qs = Entry.objects.filter(wallet__person=person).select_related("owing_region")
    if kind:
        qs = qs.filter(kind=kind)
    if date_from:
        qs = qs.filter(occurred_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(occurred_at__date__lte=date_to)
    return qs.order_by("-id")
