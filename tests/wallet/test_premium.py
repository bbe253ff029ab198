"""A wallet pays its owner's resident premium (R26): in full, oldest holding first, checked as a
holder's payment is (R16), one per person and year, idempotent; money owed by another region puts
that region in debt to the person's (R27) and the nightly clearing takes the line.

王德胜 (320100, resident) at the suite's NOW (2026-11-23), inside the collection period of the
2027 premium (400.00, demo figures)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse

from accounts.models import AuditEntry
from family.models import Relation
from payments.models import LedgerAccount, LedgerLeg, PremiumPayment
from tests.clock import NOW
from tests.threads import run_together
from tests.wallet.helpers import give, open_wallet
from wallet import services
from wallet.models import ClearingLine, Entry, Holding, Wallet
from wallet.services import clearing

pytestmark = pytest.mark.django_db

D = Decimal
Kind = LedgerAccount.Kind


def pay(person, *, key="p1", year=2027, at=NOW):
    return services.wallet_premium_pay(
        person=person, year=year, idempotency_key=key, actor=person.user, at=at
    )


def legs(kind, code) -> Decimal:
    total = LedgerLeg.objects.filter(account__kind=kind, account__region__code=code).aggregate(
        total=Sum("amount")
    )["total"]
    return total or D("0.00")


@pytest.fixture
def father(demo):
    person = demo.people["王德胜"]
    open_wallet(person)
    return person


def test_the_wallet_pays_the_whole_premium(demo, father):
    give(demo.people["王建国"], father, "500.00")
    payment, created = pay(father)
    assert created and payment.pay_type == PremiumPayment.PayType.WALLET
    assert payment.amount == D("400.00") and not payment.late
    line = payment.lines.get()
    assert line.authorization is None and line.account.kind == Kind.WALLET_FUNDS
    assert Wallet.objects.get(person=father).balance == D("100.00")
    entry = Entry.objects.get(kind=Entry.Kind.PREMIUM)
    assert entry.amount == D("-400.00") and entry.premium_line == line
    assert legs(Kind.PREMIUM_RECEIVABLE, "320100") == D("400.00")
    assert not LedgerLeg.objects.filter(account__kind=Kind.CLEARING_PAYABLE).exists()
    audit = AuditEntry.objects.get(action="premium.pay")
    assert audit.after["pay_type"] == "wallet" and audit.actor == father.user
    again, created = pay(father)  # a double click
    assert again == payment and not created


def test_money_from_another_region_is_owed_and_cleared(demo, father):
    give(demo.people["赵敏"], father, "300.00", relation=Relation.PATERNAL_GRANDPARENT)
    give(demo.people["王建国"], father, "200.00")
    payment, _created = pay(father)
    assert [(ln.account.region.code, ln.amount) for ln in payment.lines.all()] == [
        ("330100", D("300.00")),
        ("320100", D("100.00")),
    ]
    assert sorted(Holding.objects.values_list("region__code", "balance")) == [
        ("320100", D("100.00")),
        ("330100", D("0.00")),
    ]
    assert legs(Kind.CLEARING_PAYABLE, "330100") == D("300.00")  # 杭州 owes 南京
    assert legs(Kind.CLEARING_RECEIVABLE, "320100") == D("-300.00")
    [batch] = clearing.clearing_run(at=NOW + dt.timedelta(days=1))
    assert (batch.payer_region.code, batch.payee_region.code, batch.amount) == (
        "330100",
        "320100",
        D("300.00"),
    )
    assert ClearingLine.objects.get().premium_line is not None


def test_refusals_change_nothing(demo, father):
    give(demo.people["王建国"], father, "399.99")
    with pytest.raises(ValidationError) as info:
        pay(father)
    assert info.value.code == "wallet_premium_short" and "399.99" in info.value.messages[0]
    with pytest.raises(ValidationError) as info:
        pay(father, year=2031)
    assert not PremiumPayment.objects.exists()
    assert Wallet.objects.get(person=father).balance == D("399.99")
    with pytest.raises(ValidationError) as info:
        services.wallet_premium_pay(
            person=father, year=2027, idempotency_key="x", actor=demo.people["王建国"].user
        )
    assert info.value.code == "wallet_not_yours"


def test_only_once_a_year(demo, father):
    give(demo.people["王建国"], father, "1000.00")
    pay(father)
    with pytest.raises(ValidationError) as info:
        pay(father, key="p2")
    assert info.value.error_list[0].code == "already_paid"
    assert Wallet.objects.get(person=father).balance == D("600.00")


def test_a_wallet_that_is_not_open_pays_nothing(demo):
    with pytest.raises(ValidationError) as info:
        pay(demo.people["王德胜"])
    assert info.value.code == "wallet_not_open"


def test_the_member_sees_the_receipt(client, demo, father):
    give(demo.people["王建国"], father, "500.00")
    payment, _created = pay(father)
    client.force_login(father.user)
    page = client.get(reverse("payments:premium-detail", args=[payment.public_id]))
    assert page.status_code == 200 and "400.00" in page.content.decode()


def test_two_keys_at_once_pay_once(demo_transactional):
    person = demo_transactional.people["王德胜"]
    open_wallet(person)
    give(demo_transactional.people["王建国"], person, "1000.00")
    outcomes = run_together(
        lambda: pay(person, key="a")[1],
        lambda: pay(person, key="b")[1],
        refused=lambda exc: exc.error_list[0].code,
    )
    assert sorted(outcomes, key=str) == [("ok", True), ("refused", "already_paid")]
    assert Wallet.objects.get(person=person).balance == D("600.00")
