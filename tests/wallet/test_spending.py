"""Paying from a wallet (R26) and what it owes across regions (R27): the demo's wallet story
through the signed API (the answer names the source `wallet`), the order own account → wallet →
mutual aid → cash, refunds back to the wallet they came from, and the clearing legs.

State is the demo cast (tests/demo.py) at the suite's instant NOW (a weekday morning): 王建国
(南京, employee, 5000.00), his mother 王秀兰 (杭州, resident), HZ-HOSP-001 in 杭州."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from accounts.models import AuditEntry
from family.models import Relation
from payments.models import Institution, LedgerAccount, LedgerLeg, SettlementLine
from tests.clock import NOW
from tests.payments.builders import refund, settle
from tests.payments.test_api import call
from tests.wallet.helpers import give, open_wallet
from wallet import services
from wallet.models import Entry, Holding, Wallet

pytestmark = pytest.mark.django_db

D = Decimal
ONLINE = AuditEntry.Channel.ONLINE
Kind = LedgerAccount.Kind
MOTHER = "330102195004182022"  # 王秀兰


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def legs(kind, code) -> Decimal:
    total = LedgerLeg.objects.filter(account__kind=kind, account__region__code=code).aggregate(
        total=Sum("amount")
    )["total"]
    return total or D("0.00")


def wallet_of(person) -> Wallet:
    return Wallet.objects.get(person=person)


def test_the_demo_story_settles_from_the_wallet_and_the_refund_returns_to_it(demo, clock):
    wang, mother = demo.people["王建国"], demo.people["王秀兰"]
    open_wallet(mother)
    give(wang, mother, "500.00")

    response = call(
        "POST",
        "/api/v1/settlements",
        {
            "patient_id_number": MOTHER,
            "category": "outpatient",
            "amount": "300.00",
            "occurred_at": NOW.isoformat(),
            "items": [],
        },
        code="HZ-HOSP-001",
    )
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["lines"] == [{"payer": "王*兰", "source": "wallet", "amount": "300.00"}]
    assert answer["cash_due"] == "0.00"
    assert wallet_of(mother).balance == D("200.00")
    spend = Entry.objects.get(kind=Entry.Kind.SPEND)
    assert spend.amount == D("-300.00") and spend.owing_region.code == "320100"
    assert spend.balance_after == D("200.00")
    # R27: 南京's fund owes 杭州's for what 杭州's hospital was paid from 南京's money
    assert legs(Kind.CLEARING_PAYABLE, "320100") == D("300.00")
    assert legs(Kind.CLEARING_RECEIVABLE, "330100") == D("-300.00")
    assert legs(Kind.WALLET_FUNDS, "320100") == D("200.00")

    back = call(
        "POST",
        f"/api/v1/settlements/{answer['id']}/refunds",
        {"amount": "100.00"},
        code="HZ-HOSP-001",
    )
    assert back.status_code == 201, back.content
    assert wallet_of(mother).balance == D("300.00")
    entry = Entry.objects.get(kind=Entry.Kind.REFUND)
    assert entry.amount == D("100.00") and entry.owing_region.code == "320100"
    assert Holding.objects.get(wallet__person=mother).balance == D("300.00")
    assert legs(Kind.CLEARING_PAYABLE, "320100") == D("200.00")  # 南京 owes 杭州 200.00
    assert legs(Kind.CLEARING_RECEIVABLE, "330100") == D("-200.00")
    assert legs(Kind.WALLET_FUNDS, "320100") == D("300.00")
    assert LedgerAccount.objects.get(person=wang).balance == D("4500.00")


def test_own_account_first_then_the_wallet_then_cash(demo, clock):
    zhang, zhao = demo.people["张伟"], demo.people["赵敏"]
    open_wallet(zhang)
    give(zhao, zhang, "100.00", relation=Relation.SIBLING)
    hospital = Institution.objects.get(code="JS-HOSP-001")
    settlement = settle(hospital, zhang, "950.00")
    lines = list(settlement.lines.order_by("position").values_list("source", "amount"))
    assert lines == [(SettlementLine.Source.OWN, D("800.00")), (SettlementLine.Source.WALLET,
                                                                  D("100.00"))]  # fmt: skip
    assert settlement.cash_due == D("50.00")
    # 杭州's money spent in 南京: 杭州 owes 南京
    assert legs(Kind.CLEARING_PAYABLE, "330100") == D("100.00")
    assert legs(Kind.CLEARING_RECEIVABLE, "320100") == D("-100.00")
    # the refund comes back in reverse order: cash, then the wallet, then the own account
    refund(settlement, "120.00")
    assert wallet_of(zhang).balance == D("70.00")
    assert LedgerAccount.objects.get(person=zhang).balance == D("0.00")
    assert legs(Kind.CLEARING_PAYABLE, "330100") == D("30.00")


def test_the_wallet_pays_before_family_mutual_aid(demo, clock):
    """王德胜 (320100, resident) is bound by 王建国; 赵敏 (杭州) fills his wallet."""
    father, zhao, wang = demo.people["王德胜"], demo.people["赵敏"], demo.people["王建国"]
    open_wallet(father)
    give(zhao, father, "100.00", relation=Relation.PATERNAL_GRANDPARENT)
    hospital = Institution.objects.get(code="JS-HOSP-001")
    settlement = settle(hospital, father, "700.00")
    lines = list(settlement.lines.order_by("position").values_list("source", "payer", "amount"))
    assert lines == [
        (SettlementLine.Source.WALLET, father.pk, D("100.00")),
        (SettlementLine.Source.MUTUAL_AID, wang.pk, D("600.00")),
    ]
    assert settlement.cash_due == 0
    # 杭州's money spent in 南京: 杭州 owes 南京
    assert legs(Kind.CLEARING_PAYABLE, "330100") == D("100.00")


def test_money_spent_in_its_own_region_owes_nobody(demo, clock):
    wang, father = demo.people["王建国"], demo.people["王德胜"]
    open_wallet(father)
    give(wang, father, "100.00")
    settle(Institution.objects.get(code="JS-HOSP-001"), father, "50.00")
    assert not LedgerLeg.objects.filter(
        account__kind__in=[Kind.CLEARING_PAYABLE, Kind.CLEARING_RECEIVABLE]
    ).exists()
    assert wallet_of(father).balance == D("50.00")


def test_money_in_flight_is_never_spent(demo, clock):  # R25
    wang, mother = demo.people["王建国"], demo.people["王秀兰"]
    open_wallet(mother)
    services.transfer_send(
        sender=wang,
        actor=wang.user,
        channel=ONLINE,
        recipient=mother,
        relation=Relation.PARENT,
        amount=D("500.00"),
        idempotency_key="pending",
        at=NOW,
    )
    settlement = settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "300.00")
    assert not settlement.lines.exists() and settlement.cash_due == D("300.00")


def test_a_wallet_from_two_regions_pays_the_oldest_holding_first(demo, clock):
    wang, zhao, mother = demo.people["王建国"], demo.people["赵敏"], demo.people["王秀兰"]
    open_wallet(mother)
    give(wang, mother, "100.00")
    give(zhao, mother, "100.00", relation=Relation.CHILD)
    settlement = settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "150.00")
    lines = [(line.account.region.code, line.amount) for line in settlement.lines.all()]
    assert lines == [("320100", D("100.00")), ("330100", D("50.00"))]
    assert legs(Kind.CLEARING_PAYABLE, "320100") == D("100.00")  # only 南京's part is owed
    assert not LedgerLeg.objects.filter(account__kind=Kind.CLEARING_PAYABLE,
                                        account__region__code="330100").exists()  # fmt: skip
    assert sorted(Holding.objects.values_list("region__code", "balance")) == [
        ("320100", D("0.00")), ("330100", D("50.00"))
    ]  # fmt: skip
