"""个账代缴 (issue 4 point 5, R16): the 代缴信息校验 with each check failing with its message,
on-time and late payments (the Wujiaqu example: 400.00, collection 2024-08-26–2024-12-20,
benefits 2025, 3-month wait), 个人共济 and 家庭共济 allocation in the member's deduction order,
one premium per member and year whatever the double clicks, retries or concurrent requests, the
ledger legs, the audit rows, the pages with their query counts, who may see a receipt, and the
PDF proof.

Money moves through the real services on PostgreSQL. Service tests pass `at=`; page tests fix
the clock with time-machine, because the pages read it."""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, ResidentPremium, User
from accounts.pdf import offline_fetcher
from family import services as family_services
from family.models import Relation
from payments import selectors, services
from payments.forms import premium as forms
from payments.models import LedgerAccount, LedgerLeg, LedgerTransaction, PremiumPayment
from payments.selectors import premium as checks
from payments.services import premium as premium_service
from payments.views import premium as views
from tests.clock import NOW, SHANGHAI
from tests.demo import load_demo, people
from tests.factories import InsuredPersonFactory, make_id_number
from tests.family.builders import answer, bind, fresh, live, policy_set, req
from tests.payments.builders import balance, legs_total, settle
from tests.threads import run_together

D = Decimal
PERSONAL = PremiumPayment.PayType.PERSONAL
FAMILY = PremiumPayment.PayType.FAMILY
SYSTEM = AuditEntry.Channel.SYSTEM
LATE_2025 = dt.datetime(2025, 3, 10, 10, 0, tzinfo=SHANGHAI)

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LIST = reverse("payments:premium-list")
NEW = reverse("payments:premium-new")
LETTER = reverse("payments:premium-letter")
CHECK = reverse("payments:premium-check")

_keys = iter(range(1, 1_000_000))


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def pay(holder, member, *, year=2027, pay_type=PERSONAL, when=NOW, key=None, agreed=True):
    payment, _created = services.premium_pay(
        holder=holder,
        member=member,
        year=year,
        pay_type=pay_type,
        idempotency_key=key or f"test-{next(_keys)}",
        commitment_agreed=agreed,
        actor=holder.user,
        at=when,
    )
    return payment


def counts():
    return (
        PremiumPayment.objects.count(),
        LedgerLeg.objects.count(),
        AuditEntry.objects.filter(action="premium.pay").count(),
        tuple(LedgerAccount.objects.filter(kind="personal").order_by("pk").values_list("balance")),
    )


def refused(holder, member, **kwargs) -> list[str]:
    before = counts()
    with pytest.raises(ValidationError) as info:
        pay(holder, member, **kwargs)
    assert counts() == before, "a refusal changes nothing"
    return info.value.messages


def check(holder, member, *, year=2027, pay_type=PERSONAL, when=NOW):
    return selectors.premium_check(
        holder=holder, member=member, year=year, pay_type=pay_type, at=when
    )


def result_of(result, code) -> checks.Check:
    return next(c for c in result.checks if c.code == code)


def msg(const, **params) -> str:
    return str(const) % params if params else str(const)


def lines(payment) -> list[tuple[str, Decimal]]:
    return [(line.payer.name, line.amount) for line in payment.lines.select_related("payer")]


def new_child(demo, seq, *, birth=dt.date(2018, 6, 1), name=None) -> InsuredPerson:
    return InsuredPersonFactory(
        name=name or f"马小{seq}",
        region=demo["马小燕"].region,
        id_number=make_id_number("659004", birth, seq),
        scheme=InsuredPerson.Scheme.RESIDENT,
    )


def bound_in_2024(demo, seq=801) -> InsuredPerson:
    """A child 马志强 binds on 2024-10-01 (before the 2025 collection period), so that a 2025
    payment can be made on time; the demo bindings start only on 2025-01-01."""
    child = new_child(demo, seq)
    bind(demo["马志强"], req(child, Relation.CHILD), at=at(2024, 10, 1, 9, 0))
    return child


def receivable_total(region_code="659004") -> Decimal:
    return LedgerLeg.objects.filter(
        account__kind="premium_receivable", account__region__code=region_code
    ).aggregate(t=Sum("amount"))["t"] or D("0.00")


# =============================================================================================
# services: on time and late (R16)


@pytest.mark.django_db
def test_on_time_in_the_2027_collection_period(demo):  # R16
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    payment = pay(ma, xiaoyan)  # 2026-11-23, inside 2026-08-26 – 2026-12-20
    assert payment.amount == D("400.00")
    assert payment.late is False
    assert (payment.benefit_start, payment.benefit_end) == (
        dt.date(2027, 1, 1),
        dt.date(2027, 12, 31),
    )
    assert payment.pay_type == PERSONAL and payment.paid_by == ma.user and payment.paid_at == NOW
    assert lines(payment) == [("马志强", D("400.00"))]
    assert payment.lines.get().authorization == live(ma, xiaoyan)
    assert balance(ma) == D("800.00") == legs_total(ma)
    assert balance(demo["古丽娜"]) == D("800.00")
    # the ledger: the holder's account debited, the region's premium receivable credited
    entry = payment.ledger_transaction
    assert entry.kind == LedgerTransaction.Kind.PREMIUM
    assert entry.occurred_at == NOW
    legs = sorted((leg.account.kind, leg.amount) for leg in entry.legs.select_related("account"))
    assert legs == [("personal", D("-400.00")), ("premium_receivable", D("400.00"))]
    assert receivable_total() == D("400.00")
    assert entry.legs.get(amount__gt=0).account.region.code == "659004"


@pytest.mark.django_db
def test_on_time_2025_with_a_binding_made_before_the_collection_period(demo):  # R16
    child = bound_in_2024(demo)
    payment = pay(demo["马志强"], child, year=2025, when=at(2024, 11, 15, 10, 0))
    assert payment.late is False
    assert (payment.benefit_start, payment.benefit_end) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
    )


@pytest.mark.django_db
def test_late_2025_payment_has_a_three_month_wait(demo):  # R16, Wujiaqu example
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    result = check(ma, xiaoyan, year=2025, when=LATE_2025)
    assert result.passed and result.late
    timing = result_of(result, "timing")
    assert timing.warning
    assert timing.message == msg(
        checks.LATE,
        start="2024-08-26",
        end="2024-12-20",
        months=3,
        benefit_start="2025-06-10",
        benefit_end="2025-12-31",
    )
    payment = pay(ma, xiaoyan, year=2025, when=LATE_2025)
    assert payment.late is True
    assert payment.benefit_start == dt.date(2025, 6, 10)  # 2025-03-10 + 3 months
    assert payment.benefit_end == dt.date(2025, 12, 31)
    assert balance(ma) == D("800.00")


@pytest.mark.django_db
def test_late_before_the_benefit_period_starts_counts_the_wait_from_the_payment(demo):  # R16
    child = bound_in_2024(demo)
    payment = pay(demo["马志强"], child, year=2025, when=at(2024, 12, 25, 10, 0))
    assert payment.late is True
    assert payment.benefit_start == dt.date(2025, 3, 25)


def test_calendar_months():
    assert checks.add_months(dt.date(2025, 3, 10), 3) == dt.date(2025, 6, 10)
    assert checks.add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)
    assert checks.add_months(dt.date(2023, 11, 30), 3) == dt.date(2024, 2, 29)
    assert checks.add_months(dt.date(2025, 10, 31), 12) == dt.date(2026, 10, 31)
    assert checks.add_months(dt.date(2025, 8, 31), 1) == dt.date(2025, 9, 30)


# =============================================================================================
# services: each check failing with its message, changing nothing


@pytest.mark.django_db
def test_before_the_collection_period_is_refused(demo):  # R16
    messages = refused(demo["马志强"], demo["马小燕"], year=2027, when=at(2026, 8, 1, 10, 0))
    assert messages == [msg(checks.NOT_OPEN_YET, year=2027, start="2026-08-26", end="2026-12-20")]


@pytest.mark.django_db
def test_after_the_benefit_period_is_refused(demo):  # R16
    messages = refused(demo["马志强"], demo["马小燕"], year=2025)  # asked on 2026-11-23
    assert messages == [msg(checks.BENEFIT_OVER, year=2025, benefit_end="2025-12-31")]


@pytest.mark.django_db
def test_late_when_the_wait_ends_after_the_benefit_period_is_refused(demo):  # R16
    # 2026-11-23 + 3 months = 2027-02-23, after the 2026 benefit period ends
    messages = refused(demo["马志强"], demo["马小燕"], year=2026)
    assert messages == [
        msg(
            checks.LATE_TOO_LATE,
            start="2025-08-26",
            end="2025-12-20",
            months=3,
            benefit_start="2027-02-23",
            benefit_end="2026-12-31",
        )
    ]


@pytest.mark.django_db
def test_a_year_without_a_premium_is_refused(demo):  # R16
    messages = refused(demo["马志强"], demo["马小燕"], year=2030)
    assert messages == [msg(checks.NO_PREMIUM, region="五家渠市", year=2030)]


@pytest.mark.django_db
def test_someone_not_bound_to_the_member_is_refused(demo):  # R14, R16
    wang = demo["王建国"]
    messages = refused(wang, demo["马小燕"])
    assert messages == [msg(checks.NOT_BOUND, member="马小燕")]
    assert result_of(check(wang, demo["马小燕"]), "binding").passed is False


@pytest.mark.django_db
def test_a_binding_not_started_yet_is_refused(demo):  # R6, R14
    # 2024-12-25: the demo binding starts on 2025-01-01
    messages = refused(demo["马志强"], demo["马小燕"], year=2025, when=at(2024, 12, 25, 10, 0))
    assert messages == [msg(checks.BINDING_NOT_USABLE, member="马小燕", state="待生效")]


@pytest.mark.django_db
def test_a_suspended_holder_is_refused(demo):  # R14
    ma = demo["马志强"]
    family_services.person_status_change(
        person=ma, status="suspended", reason="欠费", actor=None, channel=SYSTEM
    )
    messages = refused(fresh(ma), demo["马小燕"])
    assert messages == [
        msg(checks.BINDING_NOT_USABLE, member="马小燕", state="暂停使用（参保状态异常）")
    ]


@pytest.mark.django_db
def test_a_revoked_binding_is_refused(demo):  # R15
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    family_services.authorization_revoke(
        authorization=live(ma, xiaoyan), actor=ma.user, channel="online", at=NOW
    )
    assert refused(ma, xiaoyan) == [msg(checks.NOT_BOUND, member="马小燕")]


@pytest.mark.django_db
def test_a_suspended_member_is_refused(demo):  # R14, R16
    xiaoyan = demo["马小燕"]
    family_services.person_status_change(
        person=xiaoyan, status="suspended", reason="test", actor=None, channel=SYSTEM
    )
    messages = refused(demo["马志强"], fresh(xiaoyan))
    assert messages == [
        msg(checks.BINDING_NOT_USABLE, member="马小燕", state="暂停使用（参保状态异常）"),
        msg(checks.MEMBER_NOT_NORMAL, member="马小燕", status="暂停参保"),
    ]


@pytest.mark.django_db
def test_a_member_in_the_employee_scheme_is_refused(demo):  # R16
    ma, gulina = demo["马志强"], demo["古丽娜"]
    bind(ma, req(gulina, Relation.SPOUSE))  # Xinjiang: she may be in several relationships
    answer(live(ma, gulina), gulina)
    messages = refused(ma, fresh(gulina))
    assert messages == [msg(checks.MEMBER_NOT_RESIDENT, member="古丽娜")]


@pytest.mark.django_db
def test_the_holders_cap_limits_what_may_be_used(demo):  # R21 (Shanxi cap)
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    family_services.authorization_cap_set(
        authorization=live(ma, xiaoyan), cap=D("100.00"), actor=ma.user, channel="online"
    )
    assert refused(ma, xiaoyan) == [msg(checks.BALANCE_SHORT, available="100.00", amount="400.00")]


@pytest.mark.django_db
def test_only_the_balance_above_the_retained_floor_may_be_used(demo):  # R21 (Shanxi floor)
    policy_set("659004", retained_floor=D("1000.00"))
    ma = fresh(demo["马志强"])
    assert refused(ma, fresh(demo["马小燕"])) == [
        msg(checks.BALANCE_SHORT, available="200.00", amount="400.00")
        + msg(checks.FLOOR_NOTE, floor="1000.00")
    ]


@pytest.mark.django_db
def test_personal_is_refused_when_my_account_is_short_though_family_could_pay(
    demo, institutions
):  # R16
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    settle(institutions["XJ-HOSP-001"], ma, "1050.00")  # his own care: 150.00 left
    assert refused(ma, xiaoyan) == [msg(checks.BALANCE_SHORT, available="150.00", amount="400.00")]


@pytest.mark.django_db
def test_a_refused_commitment_changes_nothing(demo):
    assert refused(demo["马志强"], demo["马小燕"], agreed=False) == [
        str(premium_service.COMMITMENT_REQUIRED)
    ]


# =============================================================================================
# 个人共济 and 家庭共济 (R9, R10, R21)


@pytest.mark.django_db
def test_family_pays_in_the_members_order_when_the_first_holder_is_short(
    demo, institutions
):  # R10, R16
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    settle(institutions["XJ-HOSP-001"], ma, "1050.00")  # 150.00 left
    result = check(ma, xiaoyan, pay_type=FAMILY)
    assert result.passed
    assert result_of(result, "balance").message == msg(
        checks.BALANCE_FAMILY_OK, count=2, amount="400.00"
    )
    payment = pay(ma, xiaoyan, pay_type=FAMILY)
    assert payment.pay_type == FAMILY
    assert lines(payment) == [("马志强", D("150.00")), ("古丽娜", D("250.00"))]
    assert [line.authorization for line in payment.lines.order_by("position")] == [
        live(ma, xiaoyan),
        live(gulina, xiaoyan),
    ]
    assert balance(ma) == D("0.00") == legs_total(ma)
    assert balance(gulina) == D("550.00") == legs_total(gulina)
    legs = sorted(
        (leg.account.person.name if leg.account.person else leg.account.kind, leg.amount)
        for leg in payment.ledger_transaction.legs.select_related("account__person")
    )
    assert legs == [
        ("premium_receivable", D("400.00")),
        ("古丽娜", D("-250.00")),
        ("马志强", D("-150.00")),
    ]


@pytest.mark.django_db
def test_family_asked_by_the_second_holder_still_follows_the_members_order(demo):  # R10
    gulina, xiaoyan = demo["古丽娜"], demo["马小燕"]
    payment = pay(gulina, xiaoyan, pay_type=FAMILY)
    assert lines(payment) == [("马志强", D("400.00"))]
    assert payment.paid_by == gulina.user
    assert balance(gulina) == D("800.00") and balance(demo["马志强"]) == D("800.00")


@pytest.mark.django_db
def test_family_draws_on_one_holder_only_where_the_region_says_so(demo, institutions):  # R21
    ma = demo["马志强"]
    settle(institutions["XJ-HOSP-001"], ma, "1050.00")
    policy_set("659004", several_holders_per_settlement=False)
    messages = refused(fresh(ma), fresh(demo["马小燕"]), pay_type=FAMILY)
    assert messages == [
        msg(checks.BALANCE_FAMILY_SHORT, amount="400.00") + str(checks.ONE_HOLDER_NOTE)
    ]


@pytest.mark.django_db
def test_family_skips_a_holder_whose_binding_is_not_usable(demo):  # R14
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    family_services.person_status_change(
        person=ma, status="suspended", reason="test", actor=None, channel=SYSTEM
    )
    payment = pay(gulina, xiaoyan, pay_type=FAMILY)
    assert lines(payment) == [("古丽娜", D("400.00"))]


# =============================================================================================
# one premium per member and year (R16), idempotency, audit


@pytest.mark.django_db
def test_one_premium_per_member_and_year(demo):  # R16
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    first = pay(ma, xiaoyan)
    paid = msg(checks.ALREADY_PAID, member="马小燕", year=2027, date="2026-11-23")
    assert refused(gulina, xiaoyan) == [paid]  # the other holder
    assert refused(ma, xiaoyan) == [paid]  # the same holder with a new key
    with pytest.raises(ValidationError) as info:
        pay(ma, xiaoyan)
    assert [e.code for e in info.value.error_list] == ["already_paid"]
    assert PremiumPayment.objects.get() == first
    assert balance(ma) == D("800.00") and balance(gulina) == D("800.00")
    assert result_of(check(ma, xiaoyan), "not_paid").message == paid
    # another year is another premium
    pay(ma, xiaoyan, year=2025, when=LATE_2025)
    assert PremiumPayment.objects.count() == 2


@pytest.mark.django_db
def test_the_same_key_pays_once(demo):
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    first, created = services.premium_pay(
        holder=ma, member=xiaoyan, year=2027, pay_type=PERSONAL, idempotency_key="k-1",
        commitment_agreed=True, actor=ma.user, at=NOW,
    )  # fmt: skip
    again, created_again = services.premium_pay(
        holder=ma, member=xiaoyan, year=2027, pay_type=PERSONAL, idempotency_key="k-1",
        commitment_agreed=True, actor=ma.user, at=NOW,
    )  # fmt: skip
    assert (created, created_again) == (True, False)
    assert again == first
    assert first.ledger_transaction.idempotency_key == "premium:k-1"
    assert LedgerTransaction.objects.filter(kind="premium").count() == 1
    assert balance(ma) == D("800.00")


@pytest.mark.django_db
def test_a_key_reused_for_another_payment_is_refused(demo):
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    pay(ma, xiaoyan, key="k-2")
    messages = refused(ma, xiaoyan, year=2025, when=LATE_2025, key="k-2")
    assert messages == [str(premium_service.IDEMPOTENCY_CONFLICT)]


@pytest.mark.django_db
def test_the_payment_is_audited(demo, institutions):  # R20
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    settle(institutions["XJ-HOSP-001"], ma, "1050.00")
    payment = pay(ma, xiaoyan, pay_type=FAMILY, year=2025, when=LATE_2025)
    entry = AuditEntry.objects.get(action="premium.pay")
    assert entry.actor == ma.user
    assert entry.channel == AuditEntry.Channel.ONLINE
    assert entry.person == xiaoyan
    assert entry.object_type == "payments.premiumpayment"
    assert entry.object_id == str(payment.public_id)
    after = entry.after
    assert after["year"] == 2025 and after["amount"] == "400.00" and after["pay_type"] == FAMILY
    assert after["late"] is True and after["waiting_months"] == 3
    assert (after["benefit_start"], after["benefit_end"]) == ("2025-06-10", "2025-12-31")
    assert after["lines"] == [
        {"payer": "马*强", "amount": "150.00", "authorization": str(live(ma, xiaoyan).public_id)},
        {
            "payer": "古*娜",
            "amount": "250.00",
            "authorization": str(live(demo["古丽娜"], xiaoyan).public_id),
        },
    ]
    text = services.premium_commitment_text(
        holder=ma, member=xiaoyan, premium=payment.premium, pay_type=FAMILY
    )
    assert after["commitment"]["version"] == premium_service.COMMITMENT_VERSION
    assert after["commitment"]["sha256"] == premium_service._hash(text)
    assert "659004201503092644" not in str(after)


@pytest.mark.django_db
def test_the_commitment_text_says_what_it_must(demo):
    premium = ResidentPremium.objects.get(region__code="659004", year=2025)
    text = services.premium_commitment_text(
        holder=demo["马志强"], member=demo["马小燕"], premium=premium, pay_type=PERSONAL
    )
    assert "代缴承诺书" in text
    assert "真实、准确、完整" in text  # the truth of the data
    assert "法律责任" in text  # legal responsibility
    assert "税务缴费APP" in text and "银行" in text and "不再通过其他渠道重复缴纳" in text
    assert "400.00元" in text and "3个月待遇等待期" in text
    assert "659004201503092644" not in text and "6590**********2644" in text


# =============================================================================================
# concurrency on real PostgreSQL connections (house pattern: tests/family/test_concurrency.py)


def codes(exc):
    return [e.code for e in exc.error_list]


def payer(holder, member, key, *, pay_type=PERSONAL):
    def call():
        return services.premium_pay(
            holder=holder, member=member, year=2027, pay_type=pay_type, idempotency_key=key,
            commitment_agreed=True, actor=holder.user, at=NOW,
        )  # fmt: skip

    return call


@pytest.mark.django_db(transaction=True)
def test_a_double_click_in_two_threads_pays_once():  # R16
    load_demo()
    cast = people()
    ma, xiaoyan = cast["马志强"], cast["马小燕"]
    for round_number in range(3):
        child = xiaoyan if round_number == 0 else new_child(cast, 900 + round_number)
        if child is not xiaoyan:
            bind(ma, req(child, Relation.CHILD), at=at(2026, 11, 1, 9, 0))
        key = f"double-{round_number}"
        outcomes = run_together(payer(ma, child, key), payer(ma, child, key), refused=codes)
        assert [kind for kind, _v in outcomes] == ["ok", "ok"], outcomes
        (first, first_created), (second, second_created) = (v for _k, v in outcomes)
        assert first == second
        assert sorted([first_created, second_created]) == [False, True]
        assert PremiumPayment.objects.filter(member=child).count() == 1
    assert balance(ma) == D("0.00") == legs_total(ma)  # 1200.00 − 3 × 400.00
    assert LedgerTransaction.objects.filter(kind="premium").count() == 3
    assert AuditEntry.objects.filter(action="premium.pay").count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_holders_paying_for_one_member_at_once_pay_once():  # R16: unique (member, year)
    load_demo()
    cast = people()
    ma, gulina, xiaoyan = cast["马志强"], cast["古丽娜"], cast["马小燕"]
    # Disjoint accounts: no lock orders them; the unique (member, year) decides.
    outcomes = run_together(
        payer(ma, xiaoyan, "ma"), payer(gulina, xiaoyan, "gulina"), refused=codes
    )
    kinds = sorted(kind for kind, _v in outcomes)
    assert kinds == ["ok", "refused"], outcomes
    assert [v for k, v in outcomes if k == "refused"] == [["already_paid"]]
    payment = PremiumPayment.objects.get(member=xiaoyan, year=2027)
    assert balance(ma) + balance(gulina) == D("1600.00")
    assert legs_total(ma) == balance(ma) and legs_total(gulina) == balance(gulina)
    assert payment.lines.get().payer in (ma, gulina)
    assert receivable_total() == D("400.00")


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_the_confirm_page_ends_on_one_receipt(time_machine):  # R16
    """Two POSTs of the same confirm form from one browser session, at the same instant."""
    time_machine.move_to(NOW, tick=False)
    load_demo()
    cast = people()
    ma = cast["马志强"]
    browser = Client()
    browser.force_login(ma.user)
    page = walk_to_check(browser, cast["马小燕"])
    form = confirm_data(page)

    def click():
        tab = Client()
        tab.cookies = browser.cookies
        return tab.post(CHECK, form)

    outcomes = run_together(click, click, refused=codes)
    assert [kind for kind, _v in outcomes] == ["ok", "ok"], outcomes
    payment = PremiumPayment.objects.get()
    receipt = reverse("payments:premium-detail", args=[payment.public_id])
    for _kind, response in outcomes:
        assert response.status_code == 302
        assert response["Location"] == receipt
    assert balance(ma) == D("800.00")
    assert LedgerTransaction.objects.filter(kind="premium").count() == 1


# =============================================================================================
# pages


def _text(response) -> str:
    words = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r"\s+", " ", words)


def walk_to_check(client, member, *, year=2027, pay_type=PERSONAL):
    """Steps 1 and 2 as a browser would; returns the check page."""
    chosen = client.post(NEW, {"member": member.public_id, "year": year, "pay_type": pay_type})
    assert chosen.status_code == 302, _text(chosen)
    assert chosen["Location"].startswith(LETTER + "?")
    signed = client.post(chosen["Location"], {"agree": "on"})
    assert signed.status_code == 302 and signed["Location"] == CHECK
    page = client.get(CHECK)
    assert page.status_code == 200
    return page


def confirm_data(page) -> dict:
    content = page.content.decode()
    return {
        name: html.unescape(re.search(rf'name="{name}" value="([^"]*)"', content).group(1))
        for name in ("key", "member", "year", "pay_type")
    }


@pytest.fixture
def clock(time_machine):
    """The pages read the clock: fixed at 2026-11-23 10:00, inside the 2027 collection period."""
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def login(client, clock):
    def as_(person: InsuredPerson):
        client.force_login(person.user)
        return client

    return as_


def count_queries(client, method, url, data=None) -> int:
    with CaptureQueriesContext(connection) as context:
        getattr(client, method)(url, data or {})
    return len(context)


@pytest.mark.django_db
def test_the_whole_walk_pays_and_shows_the_receipt(login, demo, django_assert_max_num_queries):
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    client = login(ma)
    assert "个账代缴" in _text(client.get("/"))  # the nav link
    # session, user, person, members, premiums, inbox badge
    with django_assert_max_num_queries(6):
        start = client.get(NEW)
    text = _text(start)
    assert "马小燕（6590**********2644）· 子女" in text
    assert 'value="2027" selected' in start.content.decode()  # the open collection period
    assert str(forms.PAY_TYPE_HELP[FAMILY]) in text

    page = walk_to_check(client, xiaoyan)
    text = _text(page)
    assert "全部通过" in text and "未通过" not in text
    for label in ("共济绑定关系", "被代缴人参保状态", "个人账户余额", "本年度缴费记录", "缴费时间"):
        assert label in text
    assert msg(checks.BALANCE_OK, available="1200.00", amount="400.00") in text
    assert "确认缴费 400.00 元" in text
    data = confirm_data(page)
    assert data["member"] == str(xiaoyan.public_id) and data["year"] == "2027"

    done = client.post(CHECK, data)
    payment = PremiumPayment.objects.get()
    receipt = reverse("payments:premium-detail", args=[payment.public_id])
    assert done.status_code == 302 and done["Location"] == receipt
    shown = client.get(receipt)
    text = _text(shown)
    assert msg(views.PAID, member="马小燕", year=2027, amount="400.00") in text
    assert "马*燕" in text and "6590**********2644" in text
    assert "按期缴费" in text and "2027-01-01 至 2027-12-31" in text
    assert "马*强" in text and "400.00" in text and str(payment.public_id) in text
    assert "659004201503092644" not in shown.content.decode()
    assert balance(ma) == D("800.00")
    assert client.session.get(views.DRAFT_SESSION_KEY) is None
    # the receipt itself shows the member masked; only the one-off message names her
    assert "马小燕" not in _text(client.get(receipt))


@pytest.mark.django_db
def test_choose_form_errors(login, demo):
    client = login(demo["马志强"])
    response = client.post(NEW, {})
    text = _text(response)
    assert str(forms.MEMBER_REQUIRED) in text and str(forms.YEAR_REQUIRED) in text
    assert str(forms.PAY_TYPE_REQUIRED) in text
    stranger = client.post(
        NEW, {"member": demo["王小明"].public_id, "year": 2027, "pay_type": PERSONAL}
    )
    assert str(forms.MEMBER_REQUIRED) in _text(stranger)  # not one of mine


@pytest.mark.django_db
def test_a_year_the_members_region_does_not_have_is_refused_next_to_the_year(login, demo):
    wang, zhou = demo["王建国"], demo["周芳"]
    bind(wang, req(zhou, Relation.SIBLING), at=NOW)  # 320200 has only 2027
    ResidentPremium.objects.create(
        region=RegionPolicy.objects.get(code="320100"), year=2028, amount=D("420.00"),
        collection_start=dt.date(2027, 9, 1), collection_end=dt.date(2027, 12, 31),
        benefit_start=dt.date(2028, 1, 1), benefit_end=dt.date(2028, 12, 31),
    )  # fmt: skip
    response = login(wang).post(NEW, {"member": zhou.public_id, "year": 2028, "pay_type": PERSONAL})
    assert response.status_code == 200
    expected = msg(forms.NO_YEAR_FOR_MEMBER, member="周芳", region="无锡市", year=2028)
    assert expected in _text(response)


@pytest.mark.django_db
def test_a_citizen_without_an_account_or_without_members_is_told(login, demo):
    assert str(views.NOT_EMPLOYEE) in _text(login(demo["王丽"]).get(NEW))  # resident scheme
    assert "您还没有授权的家庭成员" in _text(login(demo["张伟"]).get(NEW))


@pytest.mark.django_db
def test_the_letter_must_be_confirmed(login, demo, django_assert_max_num_queries):
    client = login(demo["马志强"])
    chosen = client.post(
        NEW, {"member": demo["马小燕"].public_id, "year": 2027, "pay_type": FAMILY}
    )
    url = chosen["Location"]
    # session, user, person, members, premiums, the year's premium, inbox badge
    with django_assert_max_num_queries(7):
        letter = client.get(url)
    text = _text(letter)
    assert "代缴承诺书" in text and "法律责任" in text and "税务缴费APP" in text
    assert "家庭共济" in text and "本人已阅读并同意以上承诺" in text
    unchecked = client.post(url, {})
    assert unchecked.status_code == 200
    assert str(forms.COMMITMENT_UNCHECKED) in _text(unchecked)
    assert client.session.get(views.DRAFT_SESSION_KEY) is None
    # without the letter, the check page sends the citizen back to step 1
    skipped = client.get(CHECK)
    assert skipped.status_code == 302 and skipped["Location"] == NEW
    signed = client.post(url, {"agree": "on"})
    assert signed["Location"] == CHECK
    draft = client.session[views.DRAFT_SESSION_KEY]
    assert (draft["year"], draft["pay_type"]) == (2027, FAMILY)


@pytest.mark.django_db
def test_a_hand_made_letter_link_goes_back_to_step_one(login, demo):
    client = login(demo["马志强"])
    response = client.get(
        LETTER, {"member": demo["王小明"].public_id, "year": 2027, "pay_type": "x"}
    )
    assert response.status_code == 200
    text = _text(response)
    assert str(forms.MEMBER_REQUIRED) in text and str(forms.PAY_TYPE_REQUIRED) in text


@pytest.mark.django_db
def test_a_failing_check_shows_each_result_and_no_confirm_button(
    login, demo, django_assert_max_num_queries
):
    ma = demo["马志强"]
    family_services.authorization_cap_set(
        authorization=live(ma, demo["马小燕"]), cap=D("100.00"), actor=ma.user, channel="online"
    )
    client = login(ma)
    page = walk_to_check(client, demo["马小燕"], year=2026)
    text = _text(page)
    assert "2 项未通过" in text
    assert "✗ 未通过" in text and "✓ 通过" in text
    assert msg(checks.BALANCE_SHORT, available="100.00", amount="400.00") in text
    assert "待遇开始日期2027-02-23已晚于待遇享受期结束日期2026-12-31" in text
    assert 'name="key"' not in page.content.decode()
    assert "确认缴费" not in text
    # session, user, person, member, premium, usable (2), accounts, already paid, inbox badge
    with django_assert_max_num_queries(10):
        client.get(CHECK)


@pytest.mark.django_db
def test_the_check_page_counts_queries_the_same_for_one_or_two_payers(
    login, demo, institutions, django_assert_max_num_queries
):
    client = login(demo["马志强"])
    walk_to_check(client, demo["马小燕"], pay_type=FAMILY)
    one = count_queries(client, "get", CHECK)
    settle(institutions["XJ-HOSP-001"], demo["马志强"], "1050.00")  # now both holders pay
    two = count_queries(client, "get", CHECK)
    assert one == two
    # session, user, person, member, premium, usable (2), accounts, already paid, inbox badge
    with django_assert_max_num_queries(10):
        page = client.get(CHECK)
    assert "古丽娜" in _text(page) and "250.00" in _text(page)


@pytest.mark.django_db
def test_a_second_post_of_the_same_confirm_ends_on_the_first_receipt(login, demo):  # R16
    ma = demo["马志强"]
    client = login(ma)
    data = confirm_data(walk_to_check(client, demo["马小燕"]))
    first = client.post(CHECK, data)
    again = client.post(CHECK, data)
    assert again.status_code == 302 and again["Location"] == first["Location"]
    assert str(views.REPLAYED) in _text(client.get(again["Location"]))
    assert PremiumPayment.objects.count() == 1 and balance(ma) == D("800.00")


@pytest.mark.django_db
def test_a_second_tab_with_a_new_key_ends_on_the_first_receipt(login, demo):  # R16
    ma = demo["马志强"]
    client = login(ma)
    tab_one = confirm_data(walk_to_check(client, demo["马小燕"]))
    tab_two = confirm_data(client.get(CHECK))
    assert tab_one["key"] != tab_two["key"]
    first = client.post(CHECK, tab_one)
    assert client.session.get(views.DRAFT_SESSION_KEY) is None  # the payment used it up
    second = client.post(CHECK, tab_two)
    assert second.status_code == 302 and second["Location"] == first["Location"]
    text = _text(client.get(second["Location"]))
    assert msg(views.ALREADY_PAID_SHOWN, member="马小燕", year=2027) in text
    # with the letter confirmed again (the page now offers no button), the service itself
    # refuses the year as paid, and the citizen lands on the receipt all the same
    page = walk_to_check(client, demo["马小燕"])
    assert 'name="key"' not in page.content.decode()
    third = client.post(CHECK, tab_two)
    assert third.status_code == 302 and third["Location"] == first["Location"]
    assert PremiumPayment.objects.count() == 1 and balance(ma) == D("800.00")


@pytest.mark.django_db
def test_another_holder_paying_a_paid_year_is_told_without_the_receipt(login, demo):  # R16
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    client = login(gulina)
    data = confirm_data(walk_to_check(client, xiaoyan))
    pay(ma, xiaoyan)  # meanwhile, her husband paid
    response = client.post(CHECK, data)
    assert response.status_code == 200
    text = _text(response)
    assert str(views.CHECK_FAILED) in text
    assert msg(checks.ALREADY_PAID, member="马小燕", year=2027, date="2026-11-23") in text
    assert balance(gulina) == D("800.00") and PremiumPayment.objects.count() == 1


@pytest.mark.django_db
def test_a_confirm_for_something_else_than_the_letter_is_refused(login, demo):
    client = login(demo["马志强"])
    data = confirm_data(walk_to_check(client, demo["马小燕"]))
    response = client.post(CHECK, {**data, "year": 2025})
    assert response.status_code == 302 and response["Location"] == NEW
    assert PremiumPayment.objects.count() == 0


@pytest.mark.django_db
def test_a_late_payment_through_the_pages(client, demo, time_machine):  # R16, Wujiaqu example
    time_machine.move_to(LATE_2025, tick=False)
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    client.force_login(ma.user)
    page = walk_to_check(client, xiaoyan, year=2025)
    text = _text(page)
    assert "全部通过" in text and "! 通过（请注意）" in text
    assert "逾期缴费：有待遇等待期" in text
    assert "缴费后须经过 3 个月待遇等待期，2025-06-10 起方可享受医保待遇" in text
    done = client.post(CHECK, confirm_data(page))
    receipt = _text(client.get(done["Location"]))
    assert "逾期缴费（集中缴费期后），待遇等待期 3 个月" in receipt
    assert "2025-06-10 至 2025-12-31" in receipt
    assert "2025-03-10 10:00:00" in receipt


# ---------------------------------------------------------------------------------------------
# who may see a receipt, its proof and the list


@pytest.fixture
def paid(demo, institutions):
    """马志强 paid 马小燕's 2027 premium (个人共济); 古丽娜 paid her 2025 one late through
    家庭共济, with 马志强 short so both accounts paid."""
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    personal = pay(ma, xiaoyan)
    settle(institutions["XJ-HOSP-001"], ma, "650.00")  # 150.00 left
    family = pay(gulina, xiaoyan, year=2025, pay_type=FAMILY, when=LATE_2025)
    assert lines(family) == [("马志强", D("150.00")), ("古丽娜", D("250.00"))]
    return {"personal": personal, "family": family}


def object_urls(payment) -> list[str]:
    return [
        reverse("payments:premium-detail", args=[payment.public_id]),
        reverse("payments:premium-proof", args=[payment.public_id]),
    ]


def user_for(person) -> User:
    """A login for a person the demo has not activated (马小燕 is a minor)."""
    if person.user_id is None:
        person.user = User.objects.create_user(username=f"c_{person.pk}", first_name=person.name)
        person.save(update_fields=["user"])
    return person.user


@pytest.mark.django_db
def test_only_the_payers_the_member_and_the_guardian_see_a_receipt(client, clock, demo, paid):
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    zhang = demo["张伟"]
    family_services.guardianship_register(
        guardian=zhang, ward=xiaoyan, basis="court", document="测试：法院指定监护",
        valid_from=dt.date(2025, 1, 1), valid_until=None, actor=None, channel=SYSTEM,
    )  # fmt: skip
    allowed = {
        "personal": [ma, xiaoyan, zhang],  # 古丽娜 neither paid nor is the member: 404
        "family": [ma, gulina, xiaoyan, zhang],  # both accounts paid; she made it
    }
    for name, payment in paid.items():
        for person in [ma, gulina, xiaoyan, zhang, demo["王建国"], demo["马俊"]]:
            client.force_login(user_for(person))
            for url in object_urls(payment):
                status = client.get(url).status_code
                expected = 200 if person in allowed[name] else 404
                assert status == expected, (name, person.name, url, status)
    client.logout()
    for url in object_urls(paid["personal"]):
        assert client.get(url).status_code == 302  # to the login page
    client.force_login(user_for(ma))
    assert client.get("/payments/premium/not-a-uuid/").status_code == 404
    assert client.get("/payments/premium/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.django_db
def test_an_expired_guardianship_sees_nothing(client, clock, demo, paid):  # R22
    zhang, xiaoyan = demo["张伟"], demo["马小燕"]
    family_services.guardianship_register(
        guardian=zhang, ward=xiaoyan, basis="court", document="测试",
        valid_from=dt.date(2025, 1, 1), valid_until=dt.date(2026, 1, 1), actor=None, channel=SYSTEM,
    )  # fmt: skip
    client.force_login(zhang.user)
    for url in object_urls(paid["personal"]):
        assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_my_premium_payments(client, clock, demo, paid, django_assert_max_num_queries):
    client.force_login(demo["古丽娜"].user)
    # session, user, person, count, page, inbox badge
    with django_assert_max_num_queries(6):
        response = client.get(LIST)
    text = _text(response)
    assert "查看2025年度缴费凭证" in text and "查看2027年度缴费凭证" not in text
    assert "逾期缴费" in text and "办理个账代缴" in text
    client.force_login(user_for(demo["马小燕"]))
    text = _text(client.get(LIST))
    assert "查看2025年度缴费凭证" in text and "查看2027年度缴费凭证" in text
    assert "办理个账代缴" not in text  # a resident has no account to pay from
    client.force_login(demo["王建国"].user)
    assert "还没有代缴记录" in _text(client.get(LIST))


@pytest.mark.django_db
def test_list_and_receipt_queries_are_constant(
    client, clock, demo, paid, django_assert_max_num_queries
):
    ma = demo["马志强"]
    client.force_login(ma.user)
    before = count_queries(client, "get", LIST)
    services.account_credit(
        person=ma, amount=D("400.00"), idempotency_key="top-up", description="测试划入", actor=None
    )
    child = new_child(demo, 811)
    bind(ma, req(child, Relation.CHILD), at=at(2026, 11, 1, 9, 0))
    pay(ma, child)
    assert count_queries(client, "get", LIST) == before
    personal, family = (
        reverse("payments:premium-detail", args=[paid[k].public_id]) for k in ("personal", "family")
    )
    assert count_queries(client, "get", personal) == count_queries(client, "get", family)
    # session, user, person, payment (+ region, member), lines with payers, inbox badge
    with django_assert_max_num_queries(6):
        assert client.get(family).status_code == 200


@pytest.mark.django_db
def test_the_proof_is_a_pdf_with_the_facts(
    client, clock, demo, paid, django_assert_max_num_queries
):
    client.force_login(demo["古丽娜"].user)
    url = reverse("payments:premium-proof", args=[paid["family"].public_id])
    with django_assert_max_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF-")
    # Kept (git-ignored) with a 60 dpi picture of it, to look at: artifacts/screenshots/.
    SHOTS.mkdir(parents=True, exist_ok=True)
    pdf = SHOTS / "premium-proof.pdf"
    pdf.write_bytes(response.content)
    subprocess.run(
        [shutil.which("pdftoppm"), "-png", "-r", "60", "-singlefile", str(pdf),
         str(pdf.with_suffix(""))],
        check=True,
    )  # fmt: skip
    text = subprocess.run(
        [shutil.which("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    info = subprocess.run(
        [shutil.which("pdfinfo"), str(pdf)], capture_output=True, check=True, text=True
    ).stdout
    assert "马*燕" in text and "6590**********2644" in text
    assert "400.00" in text and "2025" in text
    assert "城乡居民基本医疗保险缴费证明" in text
    assert "逾期缴费" in text and "2025-06-10" in text
    assert "马*强" in text and "150.00" in text and "古*娜" in text and "250.00" in text
    assert "659004201503092644" not in text and "马小燕" not in text
    assert re.search(r"Pages:\s+1\b", info)


def test_the_pdf_renderer_never_fetches_a_url():
    fetcher = offline_fetcher()
    for url in ("https://example.com/font.woff2", "http://127.0.0.1/x.css", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="does not fetch"):
            fetcher.fetch(url)
