"""R26: a wallet pays its owner's resident premium (城乡居民医保费), in full, from its holdings,
oldest first. The premium is the region's (payments' ResidentPremium), checked as a holder's
payment is (enrolment, not paid yet, the collection and benefit periods: R16), and recorded as a
payment of type `wallet` with one line per holding it took from; the receipt and its PDF are the
premium's own pages. Money owed by another region than the person's own puts that region in debt
to the person's (R27), as a spend at an institution does.

One durable transaction: the wallet and its holdings locked, the ledger movement, the payment and
its lines, the wallet entries, the audit entry. The idempotency key makes a double click one
payment; one payment per person and year is the database's constraint."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry, InsuredPerson, User
from accounts.services.audit import audit_record
from payments.models import (
    LedgerAccount,
    LedgerTransaction,
    PremiumPayment,
    PremiumPaymentLine,
)
from payments.selectors.premium import premium_ledger_key, premium_own_check
from payments.services import ledger
from payments.services.premium import IDEMPOTENCY_CONFLICT

from ..errors import WALLET_NOT_OPEN, WALLET_NOT_YOURS, WALLET_PREMIUM_SHORT
from ..models import Entry, Holding, Wallet

Kind = LedgerAccount.Kind


def _replay(key: str, person: InsuredPerson, year: int) -> PremiumPayment | None:
    """The payment this key made, if it made one; the same key asking for another year is
    refused (a page's key comes back with another year after the browser's back button), as
    `payments.services.premium_pay` refuses it."""
    found = PremiumPayment.objects.filter(
        ledger_transaction__idempotency_key=key, member=person
    ).first()
    if found is not None and found.year != year:
        raise ValidationError(IDEMPOTENCY_CONFLICT, code="idempotency_conflict")
    return found


def wallet_premium_pay(
    *,
    person: InsuredPerson,
    year: int,
    idempotency_key: str,
    actor: User,
    channel: str = AuditEntry.Channel.ONLINE,
    at: dt.datetime | None = None,
) -> tuple[PremiumPayment, bool]:
    """Pay the person's resident premium of `year` from their wallet; (payment, created)."""
    if channel == AuditEntry.Channel.ONLINE and (
        actor is None or not actor.is_authenticated or actor.pk != person.user_id
    ):
        raise ValidationError(WALLET_NOT_YOURS, code="wallet_not_yours")
    key = premium_ledger_key(f"wallet:{person.public_id}:{idempotency_key}")
    if (found := _replay(key, person, year)) is not None:
        return found, False
    at = at or timezone.now()
    try:
        with transaction.atomic(durable=True):
            return _pay(
                person=person, year=year, key=key, actor=actor, channel=channel, at=at
            ), True
    except IntegrityError:
        if (found := _replay(key, person, year)) is not None:
            return found, False
        # another key paid this person and year at the same instant: say so, as the check does
        again = premium_own_check(member=person, year=year, at=at)
        if again.failures:
            raise ValidationError(again.failures[0].message, code="already_paid") from None
        raise


def _pay(*, person, year, key, actor, channel, at) -> PremiumPayment:
    wallet = Wallet.objects.select_for_update().filter(person_id=person.pk).first()
    if wallet is None or not wallet.is_open:
        raise ValidationError(WALLET_NOT_OPEN, code="wallet_not_open")
    person = InsuredPerson.objects.select_related("region").get(pk=person.pk)
    result = premium_own_check(member=person, year=year, at=at)
    if not result.passed:
        raise ValidationError(
            [
                ValidationError(
                    check.message, code="already_paid" if check.code == "not_paid" else check.code
                )
                for check in result.failures
            ]
        )
    premium = result.premium
    assert premium is not None and result.benefit_start and result.benefit_end
    if wallet.balance < premium.amount:
        raise ValidationError(
            WALLET_PREMIUM_SHORT,
            code="wallet_premium_short",
            params={"amount": f"{premium.amount:.2f}", "balance": f"{wallet.balance:.2f}"},
        )
    holdings = list(
        Holding.objects.select_for_update().filter(wallet=wallet, balance__gt=0).order_by("id")
    )
    draws, rest = [], premium.amount
    for holding in holdings:
        take = min(rest, holding.balance)
        if take > 0:
            draws.append((holding, take))
            rest -= take
    assert rest == 0  # the balance is the sum of the holdings
    legs = [(ledger.bureau_account(Kind.PREMIUM_RECEIVABLE, person.region_id), premium.amount)]
    for holding, take in draws:
        legs.append((ledger.bureau_account(Kind.WALLET_FUNDS, holding.region_id), -take))
        if holding.region_id != person.region_id:  # R27: that region owes the person's
            legs += [
                (ledger.bureau_account(Kind.CLEARING_PAYABLE, holding.region_id), take),
                (ledger.bureau_account(Kind.CLEARING_RECEIVABLE, person.region_id), -take),
            ]
    entry = ledger.transaction_post(
        kind=LedgerTransaction.Kind.PREMIUM,
        description=f"医保钱包缴纳{person.masked_name}{year}年度城乡居民医保费",
        occurred_at=at,
        idempotency_key=key,
        legs=legs,
    )
    payment = PremiumPayment.objects.create(
        member=person,
        premium=premium,
        year=year,
        pay_type=PremiumPayment.PayType.WALLET,
        amount=premium.amount,
        late=result.late,
        benefit_start=result.benefit_start,
        benefit_end=result.benefit_end,
        paid_at=at,
        paid_by=actor,
        ledger_transaction=entry,
    )
    lines = PremiumPaymentLine.objects.bulk_create(
        [
            PremiumPaymentLine(
                payment=payment,
                position=position,
                account=ledger.bureau_account(Kind.WALLET_FUNDS, holding.region_id),
                payer=person,
                authorization=None,
                amount=take,
            )
            for position, (holding, take) in enumerate(draws, start=1)
        ]
    )
    entries = []
    for (holding, take), line in zip(draws, lines, strict=True):
        holding.balance -= take
        wallet.balance -= take
        entries.append(
            Entry(
                wallet=wallet,
                kind=Entry.Kind.PREMIUM,
                amount=-take,
                balance_after=wallet.balance,
                owing_region_id=holding.region_id,
                premium_line=line,
                description=f"缴纳{year}年度城乡居民医保费",
                occurred_at=at,
            )
        )
    Holding.objects.bulk_update([h for h, _take in draws], ["balance"])
    wallet.save(update_fields=["balance", "updated_at"])
    Entry.objects.bulk_create(entries)
    audit_record(
        actor=actor,
        channel=channel,
        action="premium.pay",
        obj=payment,
        person=person,
        after={
            "year": year,
            "amount": f"{premium.amount:.2f}",
            "pay_type": PremiumPayment.PayType.WALLET,
            "late": result.late,
            "benefit_start": result.benefit_start.isoformat(),
            "benefit_end": result.benefit_end.isoformat(),
            "lines": [{"owing_region": h.region_id, "amount": f"{take:.2f}"} for h, take in draws],
        },
    )
    return payment
