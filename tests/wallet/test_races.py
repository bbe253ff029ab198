"""The wallet's money attacked by real concurrency (R24, R25, R26): many sends from one account at
once, an accept racing the 06:00 return at the deadline, a spend racing a decline, two spends
on one wallet, a spend racing an accept. Real PostgreSQL connections in real threads
(tests/threads.py), each its own transaction; after every race the books must agree to the fen
(the wallet's own checks of the nightly reconciliation, and the ledger's).

The cast is the committed demo (`demo_transactional`): 王建国 (南京 320100, employee, 5000.00)
sends to his mother 王秀兰 (杭州 330100, resident: no personal account, so what her wallet
does not pay is cash), who spends at HZ-HOSP-001 (杭州)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from accounts.models import AuditEntry
from family.models import Relation
from payments import services as payment_services
from payments.models import Institution, LedgerAccount, LedgerLeg, SettlementLine
from tests.clock import SHANGHAI
from tests.demo import people
from tests.threads import run_together
from wallet import services
from wallet.models import Entry, Holding, Transfer, Wallet

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
ONLINE = AuditEntry.Channel.ONLINE
Kind = LedgerAccount.Kind
MORNING = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def code_of(exc) -> str:
    return exc.code


def send(sender, recipient, amount, *, key, at):
    transfer, _created = services.transfer_send(
        sender=sender,
        actor=sender.user,
        channel=ONLINE,
        recipient=recipient,
        relation=Relation.PARENT,
        amount=D(amount),
        idempotency_key=key,
        at=at,
    )
    return transfer


def accept(transfer, at):
    person = transfer.wallet.person
    return services.transfer_accept(transfer=transfer, actor=person.user, channel=ONLINE, at=at)


def decline(transfer, at):
    person = transfer.wallet.person
    return services.transfer_decline(transfer=transfer, actor=person.user, channel=ONLINE, at=at)


def settle(patient, amount, *, key, at, code="HZ-HOSP-001"):
    settlement, _created = payment_services.settlement_create(
        institution=Institution.objects.get(code=code),
        patient=patient,
        category="outpatient",
        amount=D(amount),
        occurred_at=at,
        items=[],
        idempotency_key=key,
        request_hash=key,
        at=at,
    )
    return settlement


def balance(person) -> Decimal:
    return LedgerAccount.objects.get(person=person).balance


def legs(**filters) -> Decimal:
    return LedgerLeg.objects.filter(**filters).aggregate(t=Sum("amount"))["t"] or D("0.00")


def wallet_of(person) -> Wallet:
    return Wallet.objects.get(person=person)


def wallet_paid(settlement) -> Decimal:
    return settlement.lines.filter(source=SettlementLine.Source.WALLET).aggregate(t=Sum("amount"))[
        "t"
    ] or D("0.00")


def assert_books_agree():
    """What the nightly reconciliation checks, read here directly, and then the reconciliation
    itself: wallets, holdings, entries, the bureau accounts and the personal accounts."""
    for wallet in Wallet.objects.all():
        holdings = Holding.objects.filter(wallet=wallet).aggregate(t=Sum("balance"))["t"]
        entries = Entry.objects.filter(wallet=wallet)
        assert wallet.balance == (holdings or 0) == (entries.aggregate(t=Sum("amount"))["t"] or 0)
        last = entries.order_by("-id").first()
        assert wallet.balance == (last.balance_after if last else 0)
        assert wallet.balance >= 0
    funds = Holding.objects.aggregate(t=Sum("balance"))["t"] or D("0.00")
    assert legs(account__kind=Kind.WALLET_FUNDS) == funds
    pending = Transfer.objects.filter(status=Transfer.Status.PENDING)
    assert legs(account__kind=Kind.WALLET_IN_FLIGHT) == (
        pending.aggregate(t=Sum("amount"))["t"] or D("0.00")
    )
    assert legs(account__kind__in=[Kind.CLEARING_PAYABLE, Kind.CLEARING_RECEIVABLE]) == 0
    for account in LedgerAccount.objects.filter(kind=Kind.PERSONAL):
        assert account.balance == legs(account=account) and account.balance >= 0
    run = payment_services.ledger_reconcile()
    assert run.ok and run.wallets_checked >= 1, list(run.mismatches.values())


@pytest.fixture
def cast(demo_transactional):
    cast = people()
    mother = cast["王秀兰"]
    services.wallet_open(
        person=mother,
        actor=mother.user,
        channel=ONLINE,
        confirm_place=True,
        confirm_phone=True,
        at=MORNING - dt.timedelta(hours=1),
    )
    return cast["王建国"], mother


# ---------------------------------------------------------------------------------------------
# (a) many sends from one account


def test_twenty_sends_at_once_one_goes_the_rest_are_refused_pending(cast):  # R24
    wang, mother = cast
    outcomes = run_together(
        *[
            (lambda n=n: send(wang, mother, "500.00", key=f"many-{n}", at=MORNING))
            for n in range(20)
        ],
        refused=code_of,
    )
    kinds = [kind for kind, _value in outcomes]
    assert kinds.count("ok") == 1 and kinds.count("refused") == 19, outcomes
    assert {value for kind, value in outcomes if kind == "refused"} == {"transfer_pending"}
    transfer = Transfer.objects.get()
    assert transfer.status == Transfer.Status.PENDING and transfer.amount == D("500.00")
    assert balance(wang) == D("4500.00") == legs(account__person=wang)  # fell exactly once
    assert legs(transaction=transfer.send_transaction, account__person=wang) == D("-500.00")
    assert legs(account__kind=Kind.WALLET_IN_FLIGHT) == D("500.00")
    assert AuditEntry.objects.filter(action="wallet.transfer_send").count() == 1
    assert_books_agree()


def test_twenty_sends_with_the_same_key_make_one_transfer_and_all_answer_with_it(cast):  # R24
    wang, mother = cast
    outcomes = run_together(
        *[(lambda: send(wang, mother, "300.00", key="the-one", at=MORNING)) for _ in range(20)],
        refused=code_of,
    )
    assert [kind for kind, _value in outcomes] == ["ok"] * 20, outcomes
    transfer = Transfer.objects.get()
    assert {value.pk for _kind, value in outcomes} == {transfer.pk}
    assert balance(wang) == D("4700.00") == legs(account__person=wang)
    assert legs(account__kind=Kind.WALLET_IN_FLIGHT) == D("300.00")
    assert_books_agree()


# ---------------------------------------------------------------------------------------------
# (b) accept racing the 06:00 return at the deadline


@pytest.mark.parametrize("accept_first", [True, False])
def test_an_accept_racing_the_return_at_the_deadline_happens_xor_the_return(cast, accept_first):
    """R25: the accept comes a moment before the answer time, the return pass at it: whichever
    takes the transfer's row first wins, the other finds it no longer pending. Repeated, both
    orders of starting."""
    wang, mother = cast
    start = balance(wang)
    in_wallet = D("0.00")
    accepted = returned = 0
    for day in range(6):
        transfer = send(wang, mother, "100.00", key=f"deadline-{day}",
                        at=MORNING + dt.timedelta(days=day))  # fmt: skip
        calls = [
            lambda t=transfer: accept(t, t.answer_by - dt.timedelta(microseconds=1)),
            lambda t=transfer: services.transfers_return_due(at=t.answer_by),
        ]
        if not accept_first:
            calls.reverse()
        outcomes = run_together(*calls, refused=code_of)
        if not accept_first:
            outcomes.reverse()
        (accept_kind, accept_value), (return_kind, return_value) = outcomes
        assert accept_kind != "error" and return_kind == "ok", outcomes
        transfer.refresh_from_db()
        if accept_kind == "ok":
            assert return_value == 0 and transfer.status == Transfer.Status.ACCEPTED
            accepted += 1
            in_wallet += transfer.amount
        else:
            assert accept_value == "transfer_not_pending" and return_value == 1
            assert transfer.status == Transfer.Status.RETURNED
            returned += 1
        assert transfer.finish_transaction is not None
        # the money moved once: in the wallet, or back on the account
        assert wallet_of(mother).balance == in_wallet
        assert balance(wang) == start - in_wallet
        assert legs(account__kind=Kind.WALLET_IN_FLIGHT) == 0
        assert Entry.objects.filter(transfer=transfer).count() == (accept_kind == "ok")
    assert accepted + returned == 6
    assert_books_agree()


# ---------------------------------------------------------------------------------------------
# (c) spending while money is in flight or arriving


def _accepted_and_pending(wang, mother, day=0, *, accepted="200.00", pending="150.00"):
    at = MORNING + dt.timedelta(days=day)
    accept(send(wang, mother, accepted, key=f"in-{day}", at=at), at)
    return send(wang, mother, pending, key=f"pending-{day}", at=at + dt.timedelta(hours=1))


def test_a_spend_racing_a_decline_never_uses_money_in_flight(cast):  # R25, R26, R27
    wang, mother = cast
    for day in range(3):
        pending = _accepted_and_pending(wang, mother, day)
        at = pending.sent_at + dt.timedelta(hours=1)
        before = balance(wang)
        outcomes = run_together(
            lambda at=at, day=day: settle(mother, "300.00", key=f"spend-{day}", at=at),
            lambda at=at, pending=pending: decline(pending, at),
            refused=code_of,
        )
        assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
        settlement = outcomes[0][1]
        assert wallet_paid(settlement) == D("200.00") and settlement.cash_due == D("100.00")
        line = settlement.lines.get()
        assert (line.account.kind, line.account.region.code) == (Kind.WALLET_FUNDS, "320100")
        pending.refresh_from_db()
        assert pending.status == Transfer.Status.DECLINED
        assert balance(wang) == before + D("150.00")  # the pending amount given back
        assert wallet_of(mother).balance == 0
        assert Holding.objects.get(wallet__person=mother).balance == 0
    # R27: 南京's funds paid 杭州's hospital three times 200.00
    assert legs(account__kind=Kind.CLEARING_PAYABLE, account__region__code="320100") == D("600")
    assert legs(account__kind=Kind.CLEARING_RECEIVABLE, account__region__code="330100") == D("-600")
    assert_books_agree()


def test_two_spends_on_one_wallet_never_take_more_than_it_holds(cast):  # R26
    wang, mother = cast
    for day in range(3):
        at = MORNING + dt.timedelta(days=day)
        accept(send(wang, mother, "200.00", key=f"two-{day}", at=at), at)
        outcomes = run_together(
            *[
                (lambda n=n, at=at, day=day: settle(mother, "150.00", key=f"s{day}-{n}", at=at))
                for n in range(2)
            ],
            refused=code_of,
        )
        assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
        paid = sorted(wallet_paid(s) for _kind, s in outcomes)
        assert paid == [D("50.00"), D("150.00")]
        assert sorted(s.cash_due for _kind, s in outcomes) == [D("0.00"), D("100.00")]
        assert wallet_of(mother).balance == 0
    assert_books_agree()


def test_a_spend_racing_an_accept_into_the_same_wallet(cast):  # R25, R26
    """The spend sees the wallet before the accept (200.00) or after it (350.00), never a half
    of it: what it took and what is left always add up to what arrived."""
    wang, mother = cast
    for day in range(4):
        pending = _accepted_and_pending(wang, mother, day)
        at = pending.sent_at + dt.timedelta(minutes=5)
        left_before = wallet_of(mother).balance
        outcomes = run_together(
            lambda at=at, day=day: settle(mother, "300.00", key=f"sa-{day}", at=at),
            lambda at=at, pending=pending: accept(pending, at),
            refused=code_of,
        )
        assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
        settlement = outcomes[0][1]
        took = wallet_paid(settlement)
        assert took in {min(left_before, D("300.00")), min(left_before + D("150.00"), D("300"))}
        assert settlement.cash_due == D("300.00") - took
        assert wallet_of(mother).balance == left_before + D("150.00") - took
        pending.refresh_from_db()
        assert pending.status == Transfer.Status.ACCEPTED
    assert_books_agree()


def test_the_reconciliation_during_live_transfers_and_spends_finds_nothing(cast):
    """Issue 15 point 6: the run reads one snapshot, so an accept, a spend or a send that
    commits while it runs is seen whole by every check or by none: no false mismatch."""
    wang, mother = cast
    zhao = people()["赵敏"]
    for day in range(3):
        pending = _accepted_and_pending(wang, mother, day)
        at = pending.sent_at + dt.timedelta(minutes=5)
        outcomes = run_together(
            lambda at=at, day=day: settle(mother, "120.00", key=f"live-{day}", at=at),
            lambda at=at, pending=pending: accept(pending, at),
            lambda at=at, day=day: send(zhao, mother, "10.00", key=f"live-{day}", at=at),
            lambda: payment_services.ledger_reconcile(),
            refused=code_of,
        )
        assert [kind for kind, _value in outcomes] == ["ok"] * 4, outcomes
        run = outcomes[3][1]
        assert run.ok and run.mismatch_count == 0, list(run.mismatches.values())
        decline(Transfer.objects.get(sender=zhao, status=Transfer.Status.PENDING), at)
    assert_books_agree()


# ---------------------------------------------------------------------------------------------
# (f) every movement in its own durable transaction


def test_every_wallet_movement_refuses_to_run_inside_someone_elses_transaction(cast):
    """One durable transaction per movement (issue 15): a caller's open transaction could
    otherwise hold the movement's locks, or roll it back after it was announced. Outside a test
    case's wrapping transaction Django enforces `durable=True`: each service refuses, nothing
    is written."""
    from django.db import transaction

    wang, mother = cast
    transfer = send(wang, mother, "100.00", key="durable-1", at=MORNING)
    calls = {
        "send": lambda: send(wang, mother, "50.00", key="durable-2", at=MORNING),
        "accept": lambda: accept(transfer, MORNING + dt.timedelta(hours=1)),
        "decline": lambda: decline(transfer, MORNING + dt.timedelta(hours=1)),
        "return": lambda: services.transfers_return_due(at=MORNING + dt.timedelta(days=2)),
        "clearing": lambda: services.clearing_run(at=MORNING + dt.timedelta(days=2)),
        "close": lambda: services.wallet_close(person=mother, actor=mother.user, channel=ONLINE),
    }
    counts = (Transfer.objects.count(), LedgerLeg.objects.count(), AuditEntry.objects.count())
    for name, call in calls.items():
        with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
            call()
        assert (
            Transfer.objects.count(),
            LedgerLeg.objects.count(),
            AuditEntry.objects.count(),
        ) == counts, name
    assert Transfer.objects.get().status == Transfer.Status.PENDING
