"""Money movements for the statement and admin tests, made through the real services where one
exists (settlements, refunds, credits)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import InsuredPerson, ResidentPremium
from family.models import Authorization
from payments import services
from payments.models import LedgerTransaction, PremiumPayment, PremiumPaymentLine, Settlement
from payments.services import ledger

_keys = itertools.count(1)


def settle(
    institution, patient: InsuredPerson, amount: str, *, category="outpatient", at=None
) -> Settlement:
    """A direct settlement as the institution API would make it (R9, R17)."""
    key = f"test-settlement-{next(_keys)}"
    settlement, created = services.settlement_create(
        institution=institution,
        patient=patient,
        category=category,
        amount=Decimal(amount),
        occurred_at=at or timezone.now(),
        items=[{"name": "test", "amount": amount}],
        idempotency_key=key,
        request_hash=key,
        at=at,
    )
    assert created
    return settlement


def refund(settlement: Settlement, amount: str):
    key = f"test-refund-{next(_keys)}"
    result, created = services.settlement_refund(
        settlement=settlement, amount=Decimal(amount), idempotency_key=key, request_hash=key
    )
    assert created
    return result


def premium(holder: InsuredPerson, member: InsuredPerson, *, year: int = 2027) -> PremiumPayment:
    """个账代缴 (R16) of the member's resident premium from the holder's account.

    The premium service is another part of issue 4 and not in the tree when these tests were
    written: this posts the same ledger movement and rows it records, through the ledger's only
    writer (`transaction_post`), so the statements read what the real one will write."""
    rate = ResidentPremium.objects.get(region=member.region, year=year)
    authorization = Authorization.objects.get(
        holder=holder, member=member, status__in=Authorization.LIVE_STATUSES
    )
    now = timezone.now()
    with transaction.atomic():
        account = ledger.personal_account_for(holder)
        locked = ledger.accounts_lock([account.pk])[account.pk]
        receivable = ledger.bureau_account("premium_receivable", member.region_id)
        entry = ledger.transaction_post(
            kind=LedgerTransaction.Kind.PREMIUM,
            description=f"代缴{member.name}{year}年度城乡居民医保保费",
            occurred_at=now,
            idempotency_key=f"test-premium-{next(_keys)}",
            legs=[(locked, -rate.amount), (receivable, rate.amount)],
        )
        payment = PremiumPayment.objects.create(
            member=member,
            premium=rate,
            year=year,
            pay_type=PremiumPayment.PayType.PERSONAL,
            amount=rate.amount,
            benefit_start=dt.date(year, 1, 1),
            benefit_end=dt.date(year, 12, 31),
            paid_at=now,
            paid_by=holder.user,
            ledger_transaction=entry,
        )
        PremiumPaymentLine.objects.create(
            payment=payment,
            position=1,
            account=locked,
            payer=holder,
            authorization=authorization,
            amount=rate.amount,
        )
    return payment


def credit(person: InsuredPerson, amount: str, *, at=None) -> LedgerTransaction:
    return services.account_credit(
        person=person,
        amount=Decimal(amount),
        idempotency_key=f"test-credit-{next(_keys)}",
        description="测试划入",
        actor=None,
        at=at,
    )
