"""The nightly reconciliation covers the wallets and the clearing accounts (issue 15 point 6;
R23, R25, R27): a clean demo with transfers sent, accepted, declined, returned and pending,
spends in and out of the owing region and refunds records nothing; each kind of mismatch, made
on purpose behind the services' back (a raw UPDATE of a cached figure, a row inserted without
its ledger movement: entries and legs themselves are append-only), is recorded to the fen and
left as it was.

The story: 王建国 (南京 320100) and 赵敏 (杭州 330100) send to 王秀兰 (杭州), who spends at
HZ-HOSP-001 (杭州: 南京's money there is cleared between the regions) and JS-HOSP-001 (南京)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.urls import reverse

from accounts.models import AuditEntry, RegionPolicy, User
from family.models import Relation
from payments import services as payment_services
from payments.models import (
    Institution,
    LedgerAccount,
    LedgerTransaction,
    ReconciliationMismatch,
)
from payments.services import ledger
from tests.clock import SHANGHAI
from tests.payments.builders import refund, settle
from wallet import services
from wallet.models import Entry, Holding, Transfer, Wallet

D = Decimal
ONLINE = AuditEntry.Channel.ONLINE
MORNING = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
Kind = ReconciliationMismatch.Kind
AccountKind = LedgerAccount.Kind


def day(n: int, hours: int = 0) -> dt.datetime:
    return MORNING + dt.timedelta(days=n, hours=hours)


def open_wallet(person):
    services.wallet_open(
        person=person, actor=person.user, channel=ONLINE, confirm_place=True,
        confirm_phone=True, at=day(0, -1),
    )  # fmt: skip


def send(sender, recipient, amount, key, at, relation=Relation.PARENT):
    transfer, _created = services.transfer_send(
        sender=sender, actor=sender.user, channel=ONLINE, recipient=recipient,
        relation=relation, amount=D(amount), idempotency_key=key, at=at,
    )  # fmt: skip
    return transfer


def answer(call, transfer, at):
    person = transfer.wallet.person
    return call(transfer=transfer, actor=person.user, channel=ONLINE, at=at)


@pytest.fixture
def story(demo):
    wang, zhao, mother = demo["王建国"], demo["赵敏"], demo["王秀兰"]
    open_wallet(mother)
    open_wallet(wang)  # an empty wallet is checked too
    hz = Institution.objects.get(code="HZ-HOSP-001")
    js = Institution.objects.get(code="JS-HOSP-001")
    answer(services.transfer_accept, send(wang, mother, "500.00", "a", day(0)), day(0, 1))
    answer(services.transfer_decline, send(wang, mother, "70.00", "b", day(0, 2)), day(0, 3))
    returned = send(wang, mother, "30.00", "c", day(1))
    services.transfers_return_due(at=returned.answer_by)
    from_zhao = send(zhao, mother, "200.00", "d", day(1), relation=Relation.PARENT)
    answer(services.transfer_accept, from_zhao, day(1, 1))
    # holdings 南京 500.00, 杭州 200.00. 600.00 at 杭州, the oldest holding first: 500.00 owed
    # by 南京 (cleared: 南京 owes 杭州), 100.00 by 杭州 (not cleared)
    far = settle(hz, mother, "600.00", at=day(2))
    refund(far, "150.00", at=day(2, 1))  # 100.00 back to 杭州's holding, then 50.00 to 南京's
    # 80.00 in 南京: 50.00 南京's own (not cleared), 30.00 杭州's (杭州 owes 南京)
    settle(js, mother, "80.00", at=day(3))
    pending = send(wang, mother, "120.00", "e", day(3))
    return wang, zhao, mother, pending


def reconcile():
    return payment_services.ledger_reconcile(at=day(4))


def recorded(run) -> set[tuple]:
    return {
        (m.kind, m.person.name if m.person else None,
         m.region.code if m.region else None, m.balance, m.ledger_sum, m.difference)
        for m in run.mismatches.select_related("person", "region")
    }  # fmt: skip


def sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _region(code: str) -> int:
    return RegionPolicy.objects.get(code=code).pk


def wallet_of(person) -> Wallet:
    return Wallet.objects.get(person=person)


@pytest.mark.django_db
def test_a_clean_demo_with_transfers_spends_and_refunds_records_nothing(story, caplog):
    _wang, _zhao, mother, pending = story
    wallet = wallet_of(mother)
    # the story did what it says: two holdings, money in flight, clearing both ways
    assert wallet.balance == D("500.00") + D("200.00") - D("600.00") + D("150.00") - D("80.00")
    assert Holding.objects.filter(wallet=wallet).count() == 2
    assert pending.status == Transfer.Status.PENDING
    assert Transfer.objects.filter(status=Transfer.Status.RETURNED).count() == 1
    payables = LedgerAccount.objects.filter(kind=AccountKind.CLEARING_PAYABLE)
    assert {a.region.code for a in payables} == {"320100", "330100"}
    assert {h.region.code: h.balance for h in Holding.objects.filter(wallet=wallet)} == {
        "320100": D("0.00"),
        "330100": D("170.00"),
    }
    with caplog.at_level(logging.ERROR):
        run = reconcile()
    assert run.ok and run.mismatch_count == 0 and not run.mismatches.exists()
    assert run.wallets_checked == 2 and run.ledger_total == 0
    assert not caplog.records
    assert AuditEntry.objects.get(action="ledger.reconcile").after["wallets_checked"] == 2


@pytest.mark.django_db
def test_a_wallet_balance_changed_behind_the_books_is_recorded_and_left(story, caplog):
    _wang, _zhao, mother, _pending = story
    before = wallet_of(mother).balance
    sql("UPDATE wallet_wallet SET balance = balance + 10 WHERE person_id = %s", [mother.pk])
    with caplog.at_level(logging.ERROR):
        run = reconcile()
    changed = before + 10
    assert not run.ok and run.mismatch_count == 3
    assert recorded(run) == {
        (Kind.WALLET_HOLDINGS, "王秀兰", "330100", changed, before, D("10.00")),
        (Kind.WALLET_ENTRIES, "王秀兰", "330100", changed, before, D("10.00")),
        (Kind.WALLET_LAST_ENTRY, "王秀兰", "330100", changed, before, D("10.00")),
    }
    assert {m.last_balance_after for m in run.mismatches.all()} == {before}
    assert wallet_of(mother).balance == changed  # never fixed
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "3 wallet or clearing figure(s) differ" in errors[0]
    assert str(mother.public_id) in errors[0]


@pytest.mark.django_db
def test_a_holding_changed_behind_the_books_shows_against_the_wallet_its_entries_and_the_funds(
    story,
):
    _wang, _zhao, mother, _pending = story
    holding = Holding.objects.get(wallet__person=mother, region__code="320100")
    sql("UPDATE wallet_holding SET balance = balance + 0.01 WHERE id = %s", [holding.pk])
    run = reconcile()
    kinds = {(m.kind, m.region.code, m.difference) for m in run.mismatches.all()}
    assert kinds == {
        (Kind.WALLET_HOLDINGS, "330100", D("-0.01")),  # the wallet's balance lacks the fen
        (Kind.HOLDING_ENTRIES, "320100", D("0.01")),  # the entries owed by 南京 too
        (Kind.WALLET_FUNDS, "320100", D("0.01")),  # and 南京's wallet-funds account
    }
    funds = run.mismatches.get(kind=Kind.WALLET_FUNDS)
    assert funds.account == ledger.bureau_account(AccountKind.WALLET_FUNDS, holding.region_id)


@pytest.mark.django_db
def test_money_in_wallets_without_its_ledger_movement_shows_against_the_funds(story):
    """Wallet, holding and an entry all agree, as if accepted, but no ledger movement moved the
    money from in flight to the funds: only the region's wallet-funds check can see it."""
    _wang, _zhao, mother, pending = story
    wallet = wallet_of(mother)
    holding = Holding.objects.get(wallet=wallet, region__code="330100")
    sql("UPDATE wallet_wallet SET balance = balance + 5 WHERE id = %s", [wallet.pk])
    sql("UPDATE wallet_holding SET balance = balance + 5 WHERE id = %s", [holding.pk])
    Entry.objects.create(
        wallet=wallet, kind=Entry.Kind.TRANSFER_IN, amount=D("5.00"),
        balance_after=wallet.balance + 5, owing_region=holding.region, transfer=pending,
        description="behind the services", occurred_at=day(4),
    )  # fmt: skip
    run = reconcile()
    assert recorded(run) == {
        (Kind.WALLET_FUNDS, None, "330100", D("175.00"), D("170.00"), D("5.00")),
    }


@pytest.mark.django_db
def test_a_last_entry_that_does_not_carry_the_balance_is_recorded(story):
    _wang, _zhao, mother, pending = story
    wallet = wallet_of(mother)
    holding = Holding.objects.get(wallet=wallet, region__code="320100")
    sql("UPDATE wallet_wallet SET balance = balance + 5 WHERE id = %s", [wallet.pk])
    sql("UPDATE wallet_holding SET balance = balance + 5 WHERE id = %s", [holding.pk])
    Entry.objects.create(
        wallet=wallet, kind=Entry.Kind.TRANSFER_IN, amount=D("5.00"),
        balance_after=wallet.balance, owing_region=holding.region, transfer=pending,
        description="balance_after not carried", occurred_at=day(4),
    )  # fmt: skip
    run = reconcile()
    kinds = {(m.kind, m.difference, m.last_balance_after) for m in run.mismatches.all()}
    assert kinds == {
        (Kind.WALLET_LAST_ENTRY, D("5.00"), wallet.balance),
        (Kind.WALLET_FUNDS, D("5.00"), None),
    }


@pytest.mark.django_db
def test_a_pending_amount_changed_behind_the_ledger_shows_against_the_in_flight_account(story):
    _wang, _zhao, _mother, pending = story
    sql("UPDATE wallet_transfer SET amount = amount + 1 WHERE id = %s", [pending.pk])
    run = reconcile()
    assert recorded(run) == {
        (Kind.WALLET_IN_FLIGHT, None, "320100", D("121.00"), D("120.00"), D("1.00")),
    }
    mismatch = run.mismatches.get()
    assert mismatch.account == ledger.bureau_account(
        AccountKind.WALLET_IN_FLIGHT, _region("320100")
    )


@pytest.mark.django_db
def test_a_transfer_marked_accepted_without_its_movement_shows_in_flight_and_funds(story):
    _wang, _zhao, _mother, pending = story
    sql(
        "UPDATE wallet_transfer SET status = 'accepted', finished_at = answer_by WHERE id = %s",
        [pending.pk],
    )
    run = reconcile()
    assert recorded(run) == {
        (Kind.WALLET_IN_FLIGHT, None, "320100", D("0.00"), D("120.00"), D("-120.00")),
    }


@pytest.mark.django_db
def test_clearing_payables_without_receivables_are_recorded(story, caplog):  # R27
    """A balanced movement posted behind the settlement service: a payable with no receivable
    on the other side. The legs still sum to zero; the clearing check sees it."""
    with transaction.atomic():
        ledger.transaction_post(
            kind=LedgerTransaction.Kind.CLEARING,
            description="behind the services",
            occurred_at=day(4),
            idempotency_key="tamper:clearing",
            legs=[
                (ledger.bureau_account(AccountKind.CLEARING_PAYABLE, _region("320100")),
                 D("7.50")),
                (ledger.bureau_account(AccountKind.INSTITUTION_PAYABLE, _region("330100")),
                 D("-7.50")),
            ],
        )  # fmt: skip
    with caplog.at_level(logging.ERROR):
        run = reconcile()
    assert run.ledger_total == 0 and not run.ok
    # payables 500.00 − 50.00 + 30.00 + 7.50, receivables −480.00
    assert recorded(run) == {
        (Kind.CLEARING, None, None, D("487.50"), D("480.00"), D("7.50")),
    }
    assert "clearing all regions" in caplog.records[-1].getMessage()


@pytest.mark.django_db
def test_staff_see_wallet_and_clearing_mismatches_in_the_admin(story, client):
    _wang, _zhao, mother, pending = story
    sql("UPDATE wallet_wallet SET balance = balance + 10 WHERE person_id = %s", [mother.pk])
    sql("UPDATE wallet_transfer SET amount = amount + 1 WHERE id = %s", [pending.pk])
    run = reconcile()
    client.force_login(User.objects.get(username="admin"))
    detail = client.get(reverse("admin:payments_reconciliationrun_change", args=[run.pk]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "王秀兰" in page and "330102195004182022" not in page
    assert str(Kind.WALLET_ENTRIES.label) in page and str(Kind.WALLET_IN_FLIGHT.label) in page
    listed = client.get(
        reverse("admin:payments_reconciliationmismatch_changelist"), {"run__id__exact": run.pk}
    )
    assert listed.status_code == 200 and "王秀兰" in listed.content.decode()
    for mismatch in run.mismatches.all():
        page = client.get(
            reverse("admin:payments_reconciliationmismatch_change", args=[mismatch.pk])
        )
        assert page.status_code == 200
