"""Direct settlement at designated institutions (R9, R11–R14, R17, R19, R21) and refunds.

A settlement asks only for the personal-burden amount (R13). It is paid first from the patient's
own personal account, then through the authorizations usable at that instant in deduction order,
within each holder's per-member cap and above the policy's retained floor; whatever is left is
cash. One durable transaction: the settlement row, its allocation lines, the ledger movement and
the balances commit together or not at all.

Each holder whose account paid a line for the patient is told once, in that transaction (issue 5
point 5; key `settlement:<public_id>:paid`): the amount is that holder's total in the settlement.
The patient is not told about their own account. A replay returns before settling: nobody is told
twice. Refunds tell nobody (no notice kind for them yet)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import notices
from accounts.models import AuditEntry, InsuredPerson, Notification
from accounts.services import Notice, audit_record, notifications_send
from accounts.services.audit import audit_entry
from family import selectors as family_selectors

from .. import hooks
from ..models import (
    ZERO,
    Category,
    Institution,
    LedgerAccount,
    LedgerTransaction,
    OutOfRegionFiling,
    Refund,
    RefundLine,
    Settlement,
    SettlementLine,
)
from . import ledger, settlement_sql

if TYPE_CHECKING:
    from family.models import Authorization

T = TypeVar("T")

# R12
INELIGIBLE_CATEGORY = _("该费用类别不属于个人账户（含家庭共济）的支付范围")
# R17
NOT_DESIGNATED = _("非定点医药机构不能直接结算")
IDEMPOTENCY_CONFLICT = _("该幂等键已用于内容不同的请求")
REFUND_ABOVE_REFUNDABLE = _("退款金额超过该结算尚可退款的金额")
AMOUNT_NOT_POSITIVE = _("金额必须大于0")

# Test-only fault injection: called after the first allocation line is written. Production
# never sets it; tests set it to raise and check that nothing at all is left behind.
fault_after_first_line: Callable[[], None] | None = None


def _replay(model, *, lookup: dict, request_hash: str):
    existing = model.objects.filter(**lookup).first()
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise ValidationError(IDEMPOTENCY_CONFLICT, code="idempotency_conflict")
    return existing


def _once(model, *, lookup: dict, request_hash: str, write: Callable[[], T]) -> tuple[T, bool]:
    """Idempotent write: a replay of the same key and request returns the row the first request
    made, with created=False, and the same key with another request is refused (`_replay`);
    otherwise `write` runs in its own durable transaction. Two requests with one key at the
    same instant: the one that loses on the key's unique constraint answers with the other's
    row."""
    if (found := _replay(model, lookup=lookup, request_hash=request_hash)) is not None:
        return found, False
    try:
        with transaction.atomic(durable=True):
            made = write()
    except IntegrityError:
        if (found := _replay(model, lookup=lookup, request_hash=request_hash)) is not None:
            return found, False
        raise
    return made, True


def _mutual_aid_allowed(*, patient: InsuredPerson, institution: Institution, at: dt.datetime):
    """R19: outside the patient's own region, mutual aid needs an out-of-region filing on file."""
    if institution.region_id == patient.region_id:
        return True
    day = timezone.localdate(at)
    return (
        OutOfRegionFiling.objects.filter(
            person=patient, care_region_id=institution.region_id, valid_from__lte=day
        )
        .exclude(valid_to__lt=day)
        .exists()
    )


def settlement_create(
    *,
    institution: Institution,
    patient: InsuredPerson,
    category: str,
    amount: Decimal,
    occurred_at: dt.datetime,
    items: list[dict],
    idempotency_key: str,
    request_hash: str,
    at: dt.datetime | None = None,
) -> tuple[Settlement, bool]:
    """Settle; returns (settlement, created). A replay of the same key and request returns the
    original settlement with created=False; the same key with another request is refused."""
    return _once(
        Settlement,
        lookup={"institution": institution, "idempotency_key": idempotency_key},
        request_hash=request_hash,
        write=lambda: _settle(
            institution=institution,
            patient=patient,
            category=category,
            amount=amount,
            occurred_at=occurred_at,
            items=items,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            at=at or timezone.now(),
        ),
    )


def _settle(*, institution, patient, category, amount, occurred_at, items, idempotency_key,
            request_hash, at) -> Settlement:  # fmt: skip
    if category not in Category.values:  # R12: only the eligible uses
        raise ValidationError(INELIGIBLE_CATEGORY, code="ineligible_category")
    if not institution.designated:  # R17: only a designated institution settles
        raise ValidationError(NOT_DESIGNATED, code="not_designated")
    if amount <= ZERO:
        raise ValidationError(AMOUNT_NOT_POSITIVE, code="bad_amount")

    # R9, R10, R14: checked at this instant, in deduction order, with the people and the
    # authorizations share-locked until commit: a revoke, leave, end or status change that has
    # returned is seen, one that comes later waits for this payment (issue 13 point 4).
    authorizations = family_selectors.authorizations_lock_usable_for(member=patient, at=at)
    if not _mutual_aid_allowed(patient=patient, institution=institution, at=at):
        authorizations = []
    # the patient's status and scheme were read again under that lock: current until commit
    pays_own = patient.scheme == InsuredPerson.Scheme.EMPLOYEE and patient.status == (
        InsuredPerson.Status.NORMAL
    )
    # the patient's and the holders' personal accounts, locked in one statement (issue 16)
    locked = ledger.person_accounts_lock(
        [*([patient] if pays_own else []), *(a.holder for a in authorizations)]
    )

    rest = amount
    plan: list[tuple[str, LedgerAccount, InsuredPerson, Authorization | None, Decimal]] = []
    if pays_own and rest > 0:
        own = locked[patient.pk]
        take = min(rest, own.balance)
        if take > 0:
            plan.append((SettlementLine.Source.OWN, own, patient, None, take))
            rest -= take
    if rest > 0 and (wallet := hooks.wallet_source()) is not None:
        # R26: the patient's wallet pays next, at designated institutions of any province
        for region_id, available in wallet.available(patient):
            take = min(rest, available)
            if take > 0:
                funds = ledger.bureau_account(LedgerAccount.Kind.WALLET_FUNDS, region_id)
                plan.append((SettlementLine.Source.WALLET, funds, patient, None, take))
                rest -= take
            if rest <= 0:
                break
    several = patient.region.several_holders_per_settlement
    for authorization in authorizations:
        if rest <= 0:
            break
        if not several and any(p[0] == SettlementLine.Source.MUTUAL_AID for p in plan):
            break  # R21: this region lets one settlement draw on one holder only
        account = locked[authorization.holder_id]
        floor = authorization.holder.region.retained_floor or ZERO
        # a personal account has a balance (ledgeraccount_person_and_balance_iff_personal)
        assert account.balance is not None
        available = account.balance - floor  # R21: only above the retained floor
        if authorization.payment_cap is not None:
            available = min(available, authorization.payment_cap)  # R21: holder's cap
        take = min(rest, available)
        if take > 0:
            plan.append(
                (SettlementLine.Source.MUTUAL_AID, account, authorization.holder, authorization,
                 take)
            )  # fmt: skip
            rest -= take

    settlement = Settlement(
        institution=institution,
        patient=patient,
        category=category,
        amount=amount,
        cash_due=rest,
        items=items,
        occurred_at=occurred_at,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    paid = amount - rest
    movement = None
    if paid > 0:
        # The movement is written with the settlement, which carries its id (issue 16: no
        # UPDATE after the INSERT); its key names the settlement's public id, made above.
        payable = ledger.bureau_account(
            LedgerAccount.Kind.INSTITUTION_PAYABLE, institution.region_id
        )
        movement = {
            "kind": LedgerTransaction.Kind.SETTLEMENT,
            "description": f"{institution.name} {Category(category).label}",
            "occurred_at": at,
            "idempotency_key": f"settlement:{settlement.public_id}",
            "legs": [
                *((account, -take) for _s, account, _p, _a, take in plan),
                (payable, paid),
                *_clearing_legs(
                    ((account, take) for _s, account, _p, _a, take in plan),
                    institution.region_id,
                    sign=1,
                ),
            ],
        }
    lines = [
        SettlementLine(settlement=settlement, position=position, source=source, account=account,
                       payer=payer, authorization=paying, amount=take)
        for position, (source, account, payer, paying, take) in enumerate(plan, start=1)
    ]  # fmt: skip
    audit = audit_entry(
        actor=None,
        channel=AuditEntry.Channel.API,
        action="settlement.create",
        obj=settlement,
        person=patient,
        after={
            "institution": institution.code,
            "category": category,
            "amount": str(amount),
            "cash_due": str(rest),
            "lines": [
                {"payer": line.payer.masked_name, "source": line.source, "amount": str(line.amount)}
                for line in lines
            ],  # fmt: skip
        },
    )
    _write(settlement, movement, lines, audit)
    if paid > 0 and (wallet := hooks.wallet_source()) is not None:
        for line in lines:
            if line.source == SettlementLine.Source.WALLET:
                wallet.spent(line, at)
    notifications_send(notices=_paid_notices(settlement, lines, at=at), at=at)
    settlement.written_lines = lines
    return settlement


def _writer() -> str:
    """Who writes a settlement: one SQL statement on PostgreSQL (`settlement_sql`), the ORM
    elsewhere (the SQLite file of `make run`)."""
    return "sql" if connection.vendor == "postgresql" else "orm"


def _write(settlement: Settlement, movement: dict | None, lines: list[SettlementLine],
           audit: AuditEntry) -> None:  # fmt: skip
    """Write the settlement, its movement (legs and balances), its lines and its audit entry."""
    if _writer() == "sql":
        entry, legs = None, []
        if movement is not None:
            legs = ledger.legs_apply(movement.pop("legs"))
            entry = LedgerTransaction(**movement)
            entry.description = entry.description[:200]
        settlement_sql.settlement_write(
            settlement=settlement, entry=entry, legs=legs, lines=lines, audit=audit
        )
        if lines and fault_after_first_line is not None:
            fault_after_first_line()
        return
    if movement is not None:
        settlement.ledger_transaction = ledger.transaction_post(**movement)
    settlement.save(force_insert=True)
    for line in lines:
        line.settlement = settlement
        line.save(force_insert=True)
        if line.position == 1 and fault_after_first_line is not None:
            fault_after_first_line()
    audit.save(force_insert=True)


def _clearing_legs(paid: Iterable[tuple[LedgerAccount, Decimal]], institution_region_id: int,
                   *, sign: int) -> list[tuple[LedgerAccount, Decimal]]:  # fmt: skip
    """R27: wallet money owed by another region than the institution's puts the owing region in
    debt to the institution's region (payable there, receivable here); a refund (sign -1)
    undoes its part. `paid`: (account, amount) of each line; only wallet-funds lines count."""
    legs = []
    for account, amount in paid:
        if account.kind != LedgerAccount.Kind.WALLET_FUNDS:
            continue
        if account.region_id == institution_region_id:
            continue
        legs += [
            (ledger.bureau_account(LedgerAccount.Kind.CLEARING_PAYABLE, account.region_id),
             sign * amount),
            (ledger.bureau_account(LedgerAccount.Kind.CLEARING_RECEIVABLE,
                                   institution_region_id), -sign * amount),
        ]  # fmt: skip
    return legs


def _paid_notices(settlement: Settlement, lines: list[SettlementLine], *, at) -> list[Notice]:
    """One notice per holder whose account paid for the patient, with that holder's total."""
    totals: dict[int, Decimal] = {}
    for line in lines:
        if (
            line.source == SettlementLine.Source.MUTUAL_AID
            and line.payer_id != settlement.patient_id
        ):
            totals[line.payer_id] = totals.get(line.payer_id, ZERO) + line.amount
    params = {
        "role": notices.HOLDER,
        "member": settlement.patient.masked_name,
        "at": notices.iso(at),
        "institution": settlement.institution.name,
    }
    link = reverse("payments:statement")
    return [
        Notice(
            recipient_id=payer_id,
            kind=Notification.Kind.SETTLEMENT_PAID,
            key=f"settlement:{settlement.public_id}:paid",
            params={**params, "amount": f"{total:.2f}"},
            link=link,
        )
        for payer_id, total in totals.items()
    ]


def settlement_refund(
    *,
    settlement: Settlement,
    amount: Decimal,
    idempotency_key: str,
    request_hash: str,
    at: dt.datetime | None = None,
) -> tuple[Refund, bool]:
    """Refund part or all of a settlement (R11, R17): in reverse order of payment, so the cash
    paid last comes back first, then each account line from the last to the first, each to the
    account it came from and to no one else."""
    return _once(
        Refund,
        lookup={"settlement": settlement, "idempotency_key": idempotency_key},
        request_hash=request_hash,
        write=lambda: _refund(
            settlement=settlement,
            amount=amount,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            at=at or timezone.now(),
        ),
    )


def _refund(*, settlement, amount, idempotency_key, request_hash, at) -> Refund:
    if amount <= ZERO:
        raise ValidationError(AMOUNT_NOT_POSITIVE, code="bad_amount")
    settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
    if amount > settlement.refundable:
        raise ValidationError(REFUND_ABOVE_REFUNDABLE, code="refund_exceeds")
    cash_back = settlement.refunds.aggregate(total=Sum("cash_part"))["total"] or ZERO
    cash_part = min(amount, settlement.cash_due - cash_back)
    rest = amount - cash_part
    lines = list(settlement.lines.select_related("account").order_by("-position"))
    refunded = {
        row["settlement_line"]: row["total"]
        for row in RefundLine.objects.filter(settlement_line__in=lines)
        .values("settlement_line")
        .annotate(total=Sum("amount"))
    }
    plan: list[tuple[SettlementLine, Decimal]] = []
    for line in lines:
        if rest <= 0:
            break
        take = min(rest, line.amount - refunded.get(line.pk, ZERO))
        if take > 0:
            plan.append((line, take))
            rest -= take
    refund = Refund.objects.create(
        settlement=settlement,
        amount=amount,
        cash_part=cash_part,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    refund_lines = RefundLine.objects.bulk_create(
        [RefundLine(refund=refund, settlement_line=line, amount=take) for line, take in plan]
    )
    to_accounts = sum((take for _line, take in plan), ZERO)
    if to_accounts > 0:
        # personal accounts only: wallet-funds lines are bureau accounts, never locked (R26)
        locked = ledger.accounts_lock(
            line.account_id for line, _take in plan
            if line.account.kind == LedgerAccount.Kind.PERSONAL
        )  # fmt: skip
        payable = ledger.bureau_account(
            LedgerAccount.Kind.INSTITUTION_PAYABLE, settlement.institution.region_id
        )
        entry = ledger.transaction_post(
            kind=LedgerTransaction.Kind.REFUND,
            description=f"{settlement.institution.name} 退款",
            occurred_at=at,
            idempotency_key=f"refund:{refund.public_id}",
            legs=[(payable, -to_accounts),
                  *((locked.get(line.account_id, line.account), take) for line, take in plan),
                  *_clearing_legs(((line.account, take) for line, take in plan),
                                 settlement.institution.region_id, sign=-1)],
        )  # fmt: skip
        refund.ledger_transaction = entry
        refund.save(update_fields=["ledger_transaction"])
        if (wallet := hooks.wallet_source()) is not None:
            for refund_line in refund_lines:
                if refund_line.settlement_line.source == SettlementLine.Source.WALLET:
                    wallet.refunded(refund_line, at)
    before = {"refunded": str(settlement.refunded), "status": settlement.status}
    settlement.refunded += amount
    settlement.status = (
        Settlement.Status.REFUNDED
        if settlement.refunded == settlement.amount
        else Settlement.Status.PARTIALLY_REFUNDED
    )
    settlement.save(update_fields=["refunded", "status", "updated_at"])
    audit_record(
        actor=None,
        channel=AuditEntry.Channel.API,
        action="settlement.refund",
        obj=settlement,
        person=settlement.patient,
        before=before,
        after={
            "refunded": str(settlement.refunded),
            "status": settlement.status,
            "refund": str(amount),
            "cash_part": str(cash_part),
        },
    )
    return refund
