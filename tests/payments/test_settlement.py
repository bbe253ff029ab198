"""The settlement engine (issue 4 point 3): who pays, in which order, within which limits, and
refunds back to the same accounts (R9–R14, R17, R19, R21)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry, InsuredPerson
from family import services as family_services
from payments.models import (
    LedgerLeg,
    LedgerTransaction,
    OutOfRegionFiling,
    Refund,
    Settlement,
    SettlementLine,
)
from tests.clock import NOW
from tests.family.builders import answer, bind, fresh, live, policy_set, req
from tests.payments.builders import balance, legs_total, lines, refund, settle

pytestmark = pytest.mark.django_db

ONLINE = AuditEntry.Channel.ONLINE
OWN, AID = SettlementLine.Source.OWN, SettlementLine.Source.MUTUAL_AID
D = Decimal


def counts():
    return (Settlement.objects.count(), LedgerLeg.objects.count(), Refund.objects.count())


def test_a_member_without_an_account_is_paid_for_by_the_holder(demo, institutions):  # R9
    s = settle(institutions["JS-HOSP-001"], demo["王小明"], "123.45")
    assert lines(s) == [("王建国", AID, D("123.45"))]
    assert s.cash_due == D("0.00")
    assert balance(demo["王建国"]) == D("4876.55") == legs_total(demo["王建国"])
    line = s.lines.get()
    assert line.authorization == live(demo["王建国"], demo["王小明"])


def test_the_members_own_account_pays_first_then_the_holder_then_cash(demo, institutions):  # R9
    wang, li = demo["王建国"], demo["李秀英"]
    bind(wang, req(li, "spouse"))
    answer(live(wang, li), li)
    s = settle(institutions["JS-HOSP-001"], fresh(li), "9000.00")
    assert lines(s) == [("李秀英", OWN, D("3200.00")), ("王建国", AID, D("5000.00"))]
    assert s.cash_due == D("800.00")
    assert balance(li) == D("0.00") and balance(wang) == D("0.00")


def test_holders_pay_in_the_members_deduction_order(demo, institutions):  # R9, R10
    xiaoyan = demo["马小燕"]
    s = settle(institutions["XJ-HOSP-001"], xiaoyan, "1500.00")
    assert lines(s) == [("马志强", AID, D("1200.00")), ("古丽娜", AID, D("300.00"))]

    father = live(demo["马志强"], xiaoyan)
    mother = live(demo["古丽娜"], xiaoyan)
    family_services.deduction_order_set(
        member=xiaoyan, ordered=[mother, father], actor=demo["马志强"].user, channel=ONLINE
    )
    s = settle(institutions["XJ-HOSP-001"], xiaoyan, "600.00")
    assert balance(demo["古丽娜"]) == D("0.00")  # 800 − 300 − 500
    assert lines(s) == [("古丽娜", AID, D("500.00"))]
    assert s.cash_due == D("100.00")  # 马志强 has nothing left


def test_what_nobody_can_pay_is_cash(demo, institutions):  # R9
    s = settle(institutions["XJ-HOSP-001"], demo["马小燕"], "2500.00")
    assert sum(amount for *_rest, amount in lines(s)) + s.cash_due == D("2500.00")
    assert s.cash_due == D("500.00")


def test_the_holders_per_member_cap_limits_each_payment(demo, institutions):  # R21 (Shanxi)
    father = live(demo["马志强"], demo["马小燕"])
    family_services.authorization_cap_set(
        authorization=father, cap=D("100.00"), actor=demo["马志强"].user, channel=ONLINE
    )
    s = settle(institutions["XJ-HOSP-001"], demo["马小燕"], "500.00")
    assert lines(s) == [("马志强", AID, D("100.00")), ("古丽娜", AID, D("400.00"))]


def test_only_the_balance_above_the_retained_floor_is_shared(demo, institutions):  # R21
    policy_set("659004", retained_floor=D("1000.00"))
    s = settle(institutions["XJ-HOSP-001"], fresh(demo["马小燕"]), "500.00")
    # 马志强 1200 → 200 above the floor; 古丽娜 800 is below it: nothing
    assert lines(s) == [("马志强", AID, D("200.00"))]
    assert s.cash_due == D("300.00")


def test_one_settlement_may_draw_on_one_holder_only_where_the_policy_says(demo, institutions):
    # R21 (Shanxi: one holder per settlement)
    policy_set("659004", several_holders_per_settlement=False)
    s = settle(institutions["XJ-HOSP-001"], fresh(demo["马小燕"]), "1500.00")
    assert lines(s) == [("马志强", AID, D("1200.00"))]
    assert s.cash_due == D("300.00")


def test_a_suspended_holder_does_not_pay_and_a_suspended_member_gets_no_aid(demo, institutions):
    # R14: both sides must be in normal status at the instant of use
    family_services.person_status_change(
        person=demo["马志强"], status=InsuredPerson.Status.SUSPENDED, reason="欠费",
        actor=None, channel=AuditEntry.Channel.SYSTEM,
    )  # fmt: skip
    s = settle(institutions["XJ-HOSP-001"], fresh(demo["马小燕"]), "100.00")
    assert lines(s) == [("古丽娜", AID, D("100.00"))]

    family_services.person_status_change(
        person=demo["马小燕"], status=InsuredPerson.Status.SUSPENDED, reason="欠费",
        actor=None, channel=AuditEntry.Channel.SYSTEM,
    )  # fmt: skip
    s = settle(institutions["XJ-HOSP-001"], fresh(demo["马小燕"]), "100.00")
    assert lines(s) == [] and s.cash_due == D("100.00")


def test_an_authorization_whose_window_ended_pays_nothing_even_if_nothing_ran(demo, institutions):
    # R6, R14: 王德胜's window ends 2026-12-31 23:59:59 Asia/Shanghai; no task has expired it
    desheng = demo["王德胜"]
    end = live(demo["王建国"], desheng).window_end
    s = settle(institutions["JS-HOSP-001"], desheng, "10.00", at=end)
    assert lines(s) == [("王建国", AID, D("10.00"))]
    s = settle(institutions["JS-HOSP-001"], desheng, "10.00", at=end + dt.timedelta(seconds=1))
    assert lines(s) == [] and s.cash_due == D("10.00")


def test_a_revoked_authorization_pays_nothing(demo, institutions):  # R15
    family_services.authorization_revoke(
        authorization=live(demo["王建国"], demo["王小明"]),
        actor=demo["王建国"].user,
        channel=ONLINE,
    )
    s = settle(institutions["JS-HOSP-001"], demo["王小明"], "10.00")
    assert s.cash_due == D("10.00") and lines(s) == []
    assert balance(demo["王建国"]) == D("5000.00")


@pytest.mark.parametrize("category", ["fitness", "wellness", "public_health", ""])
def test_ineligible_uses_are_refused_and_change_nothing(demo, institutions, category):  # R12
    before = counts()
    with pytest.raises(ValidationError) as exc:
        settle(institutions["JS-HOSP-001"], demo["王小明"], "10.00", category=category)
    assert exc.value.code == "ineligible_category"
    assert counts() == before and balance(demo["王建国"]) == D("5000.00")


@pytest.mark.parametrize(
    "category",
    ["outpatient", "inpatient", "maternity", "pharmacy_drug", "pharmacy_device", "vaccine"],
)
def test_every_eligible_category_settles(demo, institutions, category):  # R12
    s = settle(institutions["JS-HOSP-001"], demo["王小明"], "1.00", category=category)
    assert s.category == category and lines(s) == [("王建国", AID, D("1.00"))]


def test_a_non_designated_institution_cannot_settle(demo, institutions):  # R17
    before = counts()
    with pytest.raises(ValidationError) as exc:
        settle(institutions["JS-CLINIC-009"], demo["王小明"], "10.00")
    assert exc.value.code == "not_designated" and counts() == before


def test_out_of_region_care_uses_mutual_aid_only_with_a_filing(demo, institutions):  # R19
    xiaoyan = demo["马小燕"]  # insured in 659004, treated in Nanjing (320100)
    s = settle(institutions["JS-HOSP-001"], xiaoyan, "50.00")
    assert lines(s) == [] and s.cash_due == D("50.00")

    OutOfRegionFiling.objects.create(
        person=xiaoyan,
        care_region=institutions["JS-HOSP-001"].region,
        valid_from=NOW.date() - dt.timedelta(days=30),
        valid_to=NOW.date() + dt.timedelta(days=30),
    )
    s = settle(institutions["JS-HOSP-001"], xiaoyan, "50.00")
    assert lines(s) == [("马志强", AID, D("50.00"))]
    later = NOW + dt.timedelta(days=31)
    s = settle(institutions["JS-HOSP-001"], xiaoyan, "50.00", at=later)
    assert lines(s) == []  # the filing has ended


def test_a_replayed_key_pays_once_and_a_changed_request_is_refused(demo, institutions):
    hospital = institutions["JS-HOSP-001"]
    first = settle(hospital, demo["王小明"], "100.00", key="k-1", body="same")
    again = settle(hospital, demo["王小明"], "100.00", key="k-1", body="same")
    assert again.pk == first.pk
    assert balance(demo["王建国"]) == D("4900.00")
    with pytest.raises(ValidationError) as exc:
        settle(hospital, demo["王小明"], "200.00", key="k-1", body="other")
    assert exc.value.code == "idempotency_conflict"
    # keys are per institution: another institution may use the same key
    other = settle(institutions["JS-PHARM-001"], demo["王小明"], "1.00", key="k-1")
    assert other.pk != first.pk


def test_a_settlement_is_one_ledger_movement_and_an_audit_entry(demo, institutions):  # R20
    s = settle(institutions["XJ-HOSP-001"], demo["马小燕"], "1500.00")
    entry = s.ledger_transaction
    assert entry.kind == LedgerTransaction.Kind.SETTLEMENT
    # R13: the personal-burden amount is paid by personal accounts (and cash) only; the legs
    # are the two holders' accounts and the institution's payable, no pooled fund.
    assert sorted(entry.legs.values_list("amount", flat=True)) == [
        D("-1200.00"), D("-300.00"), D("1500.00")
    ]  # fmt: skip
    audit = AuditEntry.objects.get(action="settlement.create", object_id=str(s.public_id))
    assert audit.person_id == demo["马小燕"].pk
    assert [line["payer"] for line in audit.after["lines"]] == ["马*强", "古*娜"]


# ---------------------------------------------------------------------------------------------
# refunds (R11, R17)


def test_a_partial_refund_returns_cash_first_then_the_last_payer(demo, institutions):
    s = settle(institutions["XJ-HOSP-001"], demo["马小燕"], "2100.00")  # 1200 + 800 + cash 100
    assert s.cash_due == D("100.00")
    r = refund(s, "400.00")
    assert r.cash_part == D("100.00")
    assert [(x.settlement_line.payer.name, x.amount) for x in r.lines.all()] == [
        ("古丽娜", D("300.00"))
    ]
    s.refresh_from_db()
    assert s.status == Settlement.Status.PARTIALLY_REFUNDED and s.refunded == D("400.00")
    assert balance(demo["古丽娜"]) == D("300.00") and balance(demo["马志强"]) == D("0.00")

    refund(s, "1700.00")
    s.refresh_from_db()
    assert s.status == Settlement.Status.REFUNDED and s.refunded == D("2100.00")
    assert balance(demo["古丽娜"]) == D("800.00") and balance(demo["马志强"]) == D("1200.00")
    for name in ["古丽娜", "马志强"]:
        assert balance(demo[name]) == legs_total(demo[name])


def test_a_refund_never_goes_to_anyone_but_the_payers(demo, institutions):  # R11
    s = settle(institutions["JS-HOSP-001"], demo["王小明"], "300.00")
    refund(s, "300.00")
    # the member (a resident) has no account and gets none; the holder has it back
    assert balance(demo["王建国"]) == D("5000.00")
    payers = set(LedgerLeg.objects.filter(account__person__isnull=False, amount__gt=0)
                 .exclude(transaction__kind="credit").values_list("account__person__name",
                                                                   flat=True))  # fmt: skip
    assert payers == {"王建国"}


def test_a_refund_above_what_is_left_is_refused_and_changes_nothing(demo, institutions):
    s = settle(institutions["JS-HOSP-001"], demo["王小明"], "100.00")
    refund(s, "60.00")
    before = counts()
    with pytest.raises(ValidationError) as exc:
        refund(s, "40.01")
    assert exc.value.code == "refund_exceeds" and counts() == before
    assert balance(demo["王建国"]) == D("4960.00")


def test_a_refund_replayed_with_its_key_refunds_once(demo, institutions):
    s = settle(institutions["JS-HOSP-001"], demo["王小明"], "100.00")
    first = refund(s, "30.00", key="r-1", body="a")
    assert refund(s, "30.00", key="r-1", body="a").pk == first.pk
    with pytest.raises(ValidationError) as exc:
        refund(s, "31.00", key="r-1", body="b")
    assert exc.value.code == "idempotency_conflict"
    assert balance(demo["王建国"]) == D("4930.00")
