"""Money notifications (issue 5 point 5): "premium paid for you" to the member, "settlement paid
from your account" to each holder whose account paid for someone else. Each is written once, in
the service's transaction (a replay tells nobody again), rendered with masked names and amounts,
and mailed once after commit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import notices
from accounts.models import InsuredPerson, Notification, User
from payments import services
from payments.models import PremiumPayment, SettlementLine
from tests.clock import NOW
from tests.family.builders import answer, bind, fresh, live, req
from tests.payments.builders import lines, settle

pytestmark = pytest.mark.django_db

D = Decimal
Kind = Notification.Kind
OWN, AID = SettlementLine.Source.OWN, SettlementLine.Source.MUTUAL_AID
STATEMENT = reverse("payments:statement")


def told(person: InsuredPerson, kind: str | None = None) -> list[Notification]:
    """The money notifications of the person (the demo's binding ones left aside)."""
    kinds = [kind] if kind else [Kind.PREMIUM_PAID, Kind.SETTLEMENT_PAID]
    return list(Notification.objects.filter(recipient=person, kind__in=kinds).order_by("pk"))


def money_notices() -> list[Notification]:
    return list(
        Notification.objects.filter(kind__in=[Kind.PREMIUM_PAID, Kind.SETTLEMENT_PAID])
        .select_related("recipient")
        .order_by("pk")
    )


def body(notification: Notification) -> str:
    return notices.render(notification)[1]


def with_email(person: InsuredPerson, address: str) -> InsuredPerson:
    """Give the person a login with an e-mail address (the demo's minors have none)."""
    if person.user_id is None:
        person.user = User.objects.create_user(username=f"n_{person.pk}", first_name=person.name)
        person.save(update_fields=["user"])
    person.user.email = address
    person.user.save(update_fields=["email"])
    return person


def mails_to(address: str, kind: str) -> list[mail.EmailMessage]:
    """Mail of one kind to one address (the sweep also mails the demo's pending notices)."""
    return [m for m in mail.outbox if address in m.to and m.subject == str(Kind(kind).label)]


def pay_premium(holder, member, *, pay_type="personal", key="premium-1"):
    return services.premium_pay(
        holder=holder,
        member=member,
        year=2027,
        pay_type=pay_type,
        idempotency_key=key,
        commitment_agreed=True,
        actor=holder.user,
        at=NOW,
    )


# ---------------------------------------------------------------------------------------------
# settlements: the holders whose accounts paid


def test_each_paying_holder_is_told_once_with_their_own_total(demo, institutions):
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    settlement = settle(institutions["XJ-HOSP-001"], xiaoyan, "2500.00", key="s-1")
    assert lines(settlement) == [("马志强", AID, D("1200.00")), ("古丽娜", AID, D("800.00"))]

    (to_ma,) = told(ma, Kind.SETTLEMENT_PAID)
    (to_gulina,) = told(gulina, Kind.SETTLEMENT_PAID)
    assert told(xiaoyan) == []  # the patient paid nothing from an account of her own
    assert to_ma.key == to_gulina.key == f"settlement:{settlement.public_id}:paid"
    assert to_ma.params == {
        "role": notices.HOLDER,
        "member": "马*燕",
        "amount": "1200.00",
        "at": NOW.isoformat(),
        "institution": "五家渠市人民医院",
    }
    assert to_gulina.params["amount"] == "800.00"
    assert to_ma.link == to_gulina.link == STATEMENT
    assert to_ma.created_at == NOW
    assert body(to_ma) == (
        "您的个人账户于2026-11-23 10:00:00在五家渠市人民医院为马*燕支付医疗费用1200.00元"
        "（家庭共济）。"
    )
    assert "800.00" in body(to_gulina) and "马*燕" in body(to_gulina)
    assert "马小燕" not in body(to_ma)  # masked: mail leaves the bureau's systems


def test_the_patients_own_account_tells_nobody(demo, institutions):
    wang, li = demo["王建国"], demo["李秀英"]
    settle(institutions["JS-HOSP-001"], wang, "88.00")  # his own account only
    assert money_notices() == []

    bind(wang, req(li, "spouse"))
    answer(live(wang, li), li)
    settlement = settle(institutions["JS-HOSP-001"], fresh(li), "3300.00")
    assert lines(settlement) == [("李秀英", OWN, D("3200.00")), ("王建国", AID, D("100.00"))]
    assert told(li, Kind.SETTLEMENT_PAID) == []  # her own account: she is not told
    (to_wang,) = told(wang, Kind.SETTLEMENT_PAID)
    assert to_wang.params["amount"] == "100.00" and to_wang.params["member"] == "李*英"


def test_cash_only_tells_nobody(demo, institutions):
    settle(institutions["JS-HOSP-001"], demo["王丽"], "50.00")  # resident, nobody binds her
    assert money_notices() == []


def test_a_replayed_settlement_tells_nobody_twice_and_mails_once(
    demo, institutions, django_capture_on_commit_callbacks
):
    ma, xiaoyan = with_email(demo["马志强"], "ma@example.com"), demo["马小燕"]
    hospital = institutions["XJ-HOSP-001"]
    with django_capture_on_commit_callbacks(execute=True):
        first = settle(hospital, xiaoyan, "100.00", key="same", body="b")
    with django_capture_on_commit_callbacks(execute=True):
        again, created = services.settlement_create(
            institution=hospital, patient=xiaoyan, category="outpatient", amount=D("100.00"),
            occurred_at=NOW, items=[], idempotency_key="same", request_hash="b", at=NOW,
        )  # fmt: skip
    assert (again, created) == (first, False)
    (notification,) = told(ma)
    assert notification.email_status == Notification.EmailStatus.SENT
    (sent,) = mails_to("ma@example.com", Kind.SETTLEMENT_PAID)
    assert "马*燕" in sent.body and "100.00" in sent.body and "五家渠市人民医院" in sent.body


def test_refunds_tell_nobody(demo, institutions):
    settlement = settle(institutions["XJ-HOSP-001"], demo["马小燕"], "100.00")
    services.settlement_refund(
        settlement=settlement, amount=D("100.00"), idempotency_key="r", request_hash="r", at=NOW
    )
    assert len(money_notices()) == 1


# ---------------------------------------------------------------------------------------------
# premiums on behalf: the member


def test_the_member_is_told_once_of_a_premium_paid_for_them(demo):
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    payment, created = pay_premium(ma, xiaoyan)
    assert created
    (notification,) = told(xiaoyan)
    assert (notification.kind, notification.key) == (
        Kind.PREMIUM_PAID,
        f"premium:{payment.public_id}:paid",
    )
    assert notification.params == {
        "role": notices.MEMBER,
        "holder": "马*强",
        "year": 2027,
        "amount": "400.00",
    }
    # the member may open the receipt
    assert notification.link == reverse("payments:premium-detail", args=[payment.public_id])
    assert body(notification) == (
        "马*强已从其职工医保个人账户为您代缴2027年度城乡居民医保费，共400.00元。"
    )
    assert told(ma) == [] and told(gulina) == []  # the holders are not told of their own act


def test_family_pay_names_every_holder_whose_account_paid(demo, institutions):
    ma, gulina, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    settle(institutions["XJ-HOSP-001"], ma, "1050.00")  # 150.00 left in his account
    payment, _created = pay_premium(gulina, xiaoyan, pay_type=PremiumPayment.PayType.FAMILY)
    assert [(line.payer.name, line.amount) for line in payment.lines.order_by("position")] == [
        ("马志强", D("150.00")),
        ("古丽娜", D("250.00")),
    ]
    (notification,) = told(xiaoyan)
    assert notification.params["holder"] == "马*强、古*娜"  # in deduction order
    assert body(notification).startswith("马*强、古*娜已从其职工医保个人账户为您代缴2027年度")
    assert "400.00元" in body(notification)
    assert told(ma, Kind.PREMIUM_PAID) == [] and told(gulina) == []


def test_a_replayed_premium_tells_nobody_twice_and_mails_once(
    demo, django_capture_on_commit_callbacks
):
    ma, xiaoyan = demo["马志强"], with_email(demo["马小燕"], "xiaoyan@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        first, created = pay_premium(ma, xiaoyan, key="double")
    with django_capture_on_commit_callbacks(execute=True):
        again, created_again = pay_premium(ma, xiaoyan, key="double")
    assert (created, created_again) == (True, False) and again == first
    (notification,) = told(xiaoyan)
    assert notification.email_status == Notification.EmailStatus.SENT
    (sent,) = mails_to("xiaoyan@example.com", Kind.PREMIUM_PAID)
    assert "马*强" in sent.body and "2027" in sent.body and "400.00" in sent.body
    assert "马小燕：" in sent.body  # the greeting uses the recipient's own name


def test_a_refused_premium_tells_nobody(demo):
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    pay_premium(ma, xiaoyan, key="first")
    with pytest.raises(ValidationError):  # already paid this year (R16)
        pay_premium(demo["古丽娜"], xiaoyan, key="second")
    assert len(told(xiaoyan)) == 1
