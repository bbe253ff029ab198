"""Clearing between regions (R27): the nightly run nets cross-region wallet spends and refunds
per pair of regions into batches, each movement once; both regions confirm; the second
confirmation settles the positions in the ledger; a run twice or late changes nothing more.

The demo's wallet story: 王建国 (南京) gives his mother 王秀兰 (杭州) 500.00; HZ-HOSP-001 (杭州)
settles 300.00 from it and refunds 100.00; the night after, 南京 owes 杭州 200.00."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from accounts.models import AuditEntry, RegionPolicy
from family.models import Relation
from payments.models import Institution, LedgerAccount, LedgerLeg
from tests.clock import NOW
from tests.payments.builders import refund, settle
from tests.threads import run_together
from tests.wallet.helpers import give, open_wallet
from wallet.models import ClearingBatch, ClearingLine
from wallet.services import clearing

pytestmark = pytest.mark.django_db

D = Decimal
Kind = LedgerAccount.Kind
NIGHT = NOW + dt.timedelta(days=1)  # any time the next day clears NOW's day


def legs(kind, code) -> Decimal:
    total = LedgerLeg.objects.filter(account__kind=kind, account__region__code=code).aggregate(
        total=Sum("amount")
    )["total"]
    return total or D("0.00")


def region(code) -> RegionPolicy:
    return RegionPolicy.objects.get(code=code)


@pytest.fixture
def story(demo):
    wang, mother = demo.people["王建国"], demo.people["王秀兰"]
    open_wallet(mother)
    give(wang, mother, "500.00", at=NOW)
    settlement = settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "300.00")
    refund(settlement, "100.00")
    return demo


def test_the_night_after_nanjing_owes_hangzhou_200(story):
    batches = clearing.clearing_run(at=NIGHT)
    assert len(batches) == 1
    batch = batches[0]
    assert (batch.payer_region.code, batch.payee_region.code) == ("320100", "330100")
    assert batch.amount == D("200.00") and batch.lines_count == 2
    assert batch.business_date == NOW.date()
    assert sorted(batch.lines.values_list("amount", flat=True)) == [D("-100.00"), D("300.00")]
    audit = AuditEntry.objects.get(action="wallet.clearing_batch")
    assert audit.after["amount"] == "200.00"


def test_each_movement_is_cleared_once_whatever_the_runs(story):
    clearing.clearing_run(at=NIGHT)
    assert clearing.clearing_run(at=NIGHT) == []
    assert clearing.clearing_run(at=NIGHT + dt.timedelta(days=3)) == []
    assert ClearingLine.objects.count() == 2


def test_two_runs_at_once_make_one_batch(demo_transactional):
    wang, mother = demo_transactional.people["王建国"], demo_transactional.people["王秀兰"]
    open_wallet(mother)
    give(wang, mother, "500.00", at=NOW)
    settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "300.00")
    outcomes = run_together(
        lambda: len(clearing.clearing_run(at=NIGHT)), lambda: len(clearing.clearing_run(at=NIGHT))
    )
    assert sorted(outcomes) == [("ok", 0), ("ok", 1)]
    assert ClearingLine.objects.count() == 1


def test_movements_after_the_cutoff_wait_for_the_next_night(story):
    assert clearing.clearing_run(at=NOW) == []  # NOW's run clears the day before NOW
    assert ClearingBatch.objects.count() == 0


def test_both_ways_are_netted(story):
    """赵敏 (杭州) gives 张伟 (南京) 250.00, spent in 南京: 杭州 owes 南京 250.00 of it."""
    zhang, zhao = story.people["张伟"], story.people["赵敏"]
    open_wallet(zhang)
    give(zhao, zhang, "250.00", at=NOW, relation=Relation.SIBLING)
    settle(Institution.objects.get(code="JS-HOSP-001"), zhang, "1050.00")  # 800 own, 250 wallet
    [batch] = clearing.clearing_run(at=NIGHT)
    assert (batch.payer_region.code, batch.payee_region.code, batch.amount) == (
        "330100",
        "320100",
        D("50.00"),
    )
    assert batch.lines_count == 3


def test_both_regions_confirm_and_the_positions_are_settled(story):
    [batch] = clearing.clearing_run(at=NIGHT)
    staff = story.staff
    zhejiang = staff["admin"]  # the superuser serves every region
    with pytest.raises(ValidationError) as info:
        clearing.clearing_confirm(batch=batch, actor=staff["xj_clerk"], side="payer")
    assert info.value.code == "clearing_not_your_region"
    clearing.clearing_confirm(batch=batch, actor=staff["js_super"], side="payer", at=NIGHT)
    batch.refresh_from_db()
    assert batch.status == ClearingBatch.Status.OPEN and batch.ledger_transaction is None
    with pytest.raises(ValidationError) as info:
        clearing.clearing_confirm(batch=batch, actor=staff["js_super"], side="payer")
    assert info.value.code == "clearing_already_confirmed"
    assert legs(Kind.CLEARING_PAYABLE, "320100") == D("200.00")
    clearing.clearing_confirm(batch=batch, actor=zhejiang, side="payee", at=NIGHT)
    batch.refresh_from_db()
    assert batch.status == ClearingBatch.Status.SETTLED
    assert legs(Kind.CLEARING_PAYABLE, "320100") == 0
    assert legs(Kind.CLEARING_RECEIVABLE, "330100") == 0
    actions = set(AuditEntry.objects.filter(action__startswith="wallet.clearing_confirm")
                  .values_list("action", flat=True))  # fmt: skip
    assert actions == {"wallet.clearing_confirm_payer", "wallet.clearing_confirm_payee"}


def test_receivables_equal_payables_to_the_fen(story):
    clearing.clearing_run(at=NIGHT)
    payable = LedgerLeg.objects.filter(account__kind=Kind.CLEARING_PAYABLE).aggregate(
        total=Sum("amount")
    )["total"]
    receivable = LedgerLeg.objects.filter(account__kind=Kind.CLEARING_RECEIVABLE).aggregate(
        total=Sum("amount")
    )["total"]
    assert payable == -receivable == D("200.00")
    open_lines = ClearingLine.objects.filter(batch__status=ClearingBatch.Status.OPEN)
    assert open_lines.aggregate(total=Sum("amount"))["total"] == payable
