"""Money under real concurrency (issue 4 acceptance): threads on their own PostgreSQL
connections, each committing its own transaction; a fault injected mid-settlement."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from payments.models import LedgerAccount, LedgerLeg, Settlement, SettlementLine
from payments.services import settlement as settlement_service
from tests.demo import load_demo, people
from tests.payments.builders import balance, legs_total, settle
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def test_fifty_threads_settling_against_one_holder(transactional_db):
    load_demo()
    cast = people()
    from payments.models import Institution

    hospital = Institution.objects.get(code="JS-HOSP-001")
    wang, child = cast["王建国"], cast["王小明"]
    start = balance(wang)  # 5000.00
    # 50 threads, 25 idempotency keys each sent twice (a retry racing its original),
    # 250.00 each: 6250.00 asked of a 5000.00 account.
    calls = [
        (lambda key=f"k-{i // 2}": settle(hospital, child, "250.00", key=key, body="same"))
        for i in range(50)
    ]
    outcomes = run_together(*calls)
    assert [kind for kind, _ in outcomes].count("ok") == 50, outcomes

    assert Settlement.objects.count() == 25  # repeated keys paid once
    for _kind, settlement in outcomes:
        assert settlement.pk in {s.pk for s in Settlement.objects.all()}
    paid = SettlementLine.objects.aggregate(t=Sum("amount"))["t"]
    final = balance(wang)
    assert final == start - paid  # to the cent
    assert final >= 0
    assert final == legs_total(wang)  # the ledger sums to the balance
    assert paid == D("5000.00") and final == D("0.00")  # demand exceeded the balance
    for s in Settlement.objects.prefetch_related("lines"):
        assert sum(line.amount for line in s.lines.all()) + s.cash_due == s.amount
    payable = LedgerLeg.objects.filter(account__kind="institution_payable").aggregate(
        t=Sum("amount")
    )["t"]
    assert payable == paid
    assert LedgerAccount.objects.filter(kind="personal", balance__lt=0).count() == 0


def test_settlements_over_two_holders_in_both_orders_do_not_deadlock(transactional_db):
    """Locks are always taken in ascending id order, whatever the deduction order."""
    load_demo()
    cast = people()
    from family import services as family_services
    from family.models import Authorization
    from payments.models import Institution

    hospital = Institution.objects.get(code="XJ-HOSP-001")
    xiaoyan = cast["马小燕"]
    auths = list(Authorization.objects.filter(member=xiaoyan).order_by("pk"))

    def flip(order):
        def call():
            family_services.deduction_order_set(
                member=xiaoyan, ordered=order, actor=cast["马志强"].user, channel="online"
            )

        return call

    calls = [lambda: settle(hospital, xiaoyan, "10.00") for _ in range(16)]
    calls += [flip(auths), flip(list(reversed(auths)))]
    outcomes = run_together(*calls)
    errors = [value for kind, value in outcomes if kind == "error"]
    assert not [e for e in errors if "deadlock" in e.lower()], errors
    total = balance(cast["马志强"]) + balance(cast["古丽娜"])
    assert total == D("2000.00") - D("10.00") * Settlement.objects.count()


def test_a_fault_after_the_first_line_leaves_nothing(transactional_db, monkeypatch):
    load_demo()
    cast = people()
    from payments.models import Institution, LedgerTransaction

    hospital = Institution.objects.get(code="XJ-HOSP-001")
    before = (
        Settlement.objects.count(),
        SettlementLine.objects.count(),
        LedgerLeg.objects.count(),
        LedgerTransaction.objects.count(),
        balance(cast["马志强"]),
        balance(cast["古丽娜"]),
    )

    def boom():
        raise RuntimeError("injected fault")

    monkeypatch.setattr(settlement_service, "fault_after_first_line", boom)
    with pytest.raises(RuntimeError, match="injected fault"):
        settle(hospital, cast["马小燕"], "1500.00")
    after = (
        Settlement.objects.count(),
        SettlementLine.objects.count(),
        LedgerLeg.objects.count(),
        LedgerTransaction.objects.count(),
        balance(cast["马志强"]),
        balance(cast["古丽娜"]),
    )
    assert after == before

    monkeypatch.setattr(settlement_service, "fault_after_first_line", None)
    settle(hospital, cast["马小燕"], "1500.00")
    assert balance(cast["马志强"]) == D("0.00")
