"""Reads about transfers (R24, R25): what the limits count, what a sender may send now, and the
transfers a person sees, scoped to the person who asks (sender or recipient), never by an id
alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from accounts.models import InsuredPerson, RegionPolicy
from family.models import Relation
from payments.models import ZERO, LedgerAccount

from ..errors import (
    TRANSFER_ABOVE_AVAILABLE,
    TRANSFER_DAILY_LIMIT,
    TRANSFER_INVALID_RELATION,
    TRANSFER_NOTHING_AVAILABLE,
    TRANSFER_PENDING,
    TRANSFER_SENDER_NOT_EMPLOYEE,
    TRANSFER_SENDER_NOT_NORMAL,
    TRANSFER_TO_SELF,
    TRANSFER_WALLET_NOT_OPEN,
)
from ..models import TRANSFER_MAX, TRANSFERS_PER_DAY, Transfer, Wallet
from ..rules import amount_refusal, day_bounds, night_refusal


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


def region_place(region: RegionPolicy) -> str:
    """A region as a citizen names it: 江苏省南京市 (an insured place, or whose fund owes)."""
    return f"{region.province_name}{region.name}"


SENT, RECEIVED = "sent", "received"


def transfers_filtered(
    *, person: InsuredPerson, direction: str | None = None, status: str | None = None
) -> QuerySet[Transfer]:
    """`transfers_for`, only those the person sent (`SENT`) or received (`RECEIVED`), and only
    in one status, when asked."""
    qs = transfers_for(person=person)
    if direction == SENT:
        qs = qs.filter(sender=person)
    elif direction == RECEIVED:
        qs = qs.filter(wallet__person=person)
    if status:
        qs = qs.filter(status=status)
    return qs


@dataclass(frozen=True)
class SendState:
    """What a would-be sender may do now (R24): why nothing can be sent at all (`refusal`, None
    when the form may be filled), what the account allows above its floor, and today's count."""

    account: LedgerAccount | None
    refusal: ValidationError | None
    available: Decimal = ZERO
    floor: Decimal = ZERO
    sent_today: int = 0
    pending: Transfer | None = None

    @property
    def has_account(self) -> bool:
        """An employee-scheme personal account: only its holder is offered the send page."""
        return self.account is not None

    @property
    def message(self) -> str:
        return self.refusal.messages[0] if self.refusal else ""

    @property
    def left_today(self) -> int:
        return max(TRANSFERS_PER_DAY - self.sent_today, 0)

    @property
    def left_after_this(self) -> int:
        return max(self.left_today - 1, 0)

    @property
    def most_now(self) -> Decimal:
        """The largest amount one transfer may carry now: what is above the floor, at most
        2,000.00."""
        return min(self.available, TRANSFER_MAX)


def send_state(*, sender: InsuredPerson, at: dt.datetime) -> SendState:
    """The read-only part of `wallet.services.transfer_send`'s checks that needs no recipient,
    in its order: scheme and status, the night pause, one pending, 3 a day, the floor. A few
    queries whatever the history (`sender` read with its region)."""
    refusal: ValidationError | None
    if sender.scheme != InsuredPerson.Scheme.EMPLOYEE:
        refusal = ValidationError(TRANSFER_SENDER_NOT_EMPLOYEE, code="transfer_sender_not_employee")
        return SendState(account=None, refusal=refusal)
    account = LedgerAccount.objects.filter(person=sender, kind=LedgerAccount.Kind.PERSONAL).first()
    floor = sender.region.retained_floor or ZERO
    if account is None:
        refusal = ValidationError(
            TRANSFER_NOTHING_AVAILABLE,
            code="transfer_nothing_available",
            params={"floor": f"{floor:.2f}"},
        )
        return SendState(account=None, refusal=refusal, floor=floor)
    available, floor = transferable(account=account, sender=sender)
    pending = pending_sent(sender=sender)
    sent_today = sent_on_day(sender=sender, at=at)
    refusal = None
    if sender.status != InsuredPerson.Status.NORMAL:
        refusal = ValidationError(TRANSFER_SENDER_NOT_NORMAL, code="transfer_sender_not_normal")
    elif (night := night_refusal(at)) is not None:
        refusal = night
    elif pending is not None:
        refusal = ValidationError(TRANSFER_PENDING, code="transfer_pending")
    elif sent_today >= TRANSFERS_PER_DAY:
        refusal = ValidationError(TRANSFER_DAILY_LIMIT, code="transfer_daily_limit")
    elif available <= 0:
        refusal = ValidationError(
            TRANSFER_NOTHING_AVAILABLE,
            code="transfer_nothing_available",
            params={"floor": f"{floor:.2f}"},
        )
    return SendState(
        account=account,
        refusal=refusal,
        available=available,
        floor=floor,
        sent_today=sent_today,
        pending=pending,
    )


def send_refusal(
    *,
    state: SendState,
    sender: InsuredPerson,
    recipient: InsuredPerson,
    relation: str,
    amount: Decimal,
) -> ValidationError | None:
    """Why this transfer would be refused now (R24), or None: the dry run of
    `wallet.services.transfer_send` for the confirmation page. The service checks all of it
    again under its locks when the sender confirms."""
    if state.refusal is not None:
        return state.refusal
    if recipient.pk == sender.pk:
        return ValidationError(TRANSFER_TO_SELF, code="transfer_to_self")
    if relation not in Relation.values:
        return ValidationError(TRANSFER_INVALID_RELATION, code="transfer_invalid_relation")
    if (refusal := amount_refusal(amount)) is not None:
        return refusal
    wallet = Wallet.objects.filter(person_id=recipient.pk).first()
    if wallet is None or not wallet.is_open:
        return ValidationError(TRANSFER_WALLET_NOT_OPEN, code="transfer_wallet_not_open")
    if amount > state.available:
        return ValidationError(
            TRANSFER_ABOVE_AVAILABLE,
            code="transfer_above_available",
            params={"available": f"{state.available:.2f}", "floor": f"{state.floor:.2f}"},
        )
    return None
