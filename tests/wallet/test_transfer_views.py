"""The transfer pages (R24, R25) and the wallet's history (R23), walked with Django's test client
on PostgreSQL, no mocks: 医保钱包转账申请 in two steps (the dry run, then the password through
`accounts.reauth`), every refusal shown in the page with nothing changed, a double submit making
one transfer, the lists scoped to the person who asks (another person's transfer is a 404), the
recipient's 接收 / 拒收, the overview's holdings, the history with its filters and CSV, and the
sender's personal-account statement. Each page's queries are counted and do not grow with rows.

Time is pinned (the limits depend on the Asia/Shanghai hour): 2026-03-02 09:00, a Monday morning.
The cast (tests/demo.py): 王建国 (南京, employee, 5000.00) sends to his mother 王秀兰 (杭州,
resident), who opens her wallet first."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry, Notification, RegionPolicy, User
from accounts.reauth import TRIES_LEFT
from family.models import Relation
from payments.demo import seed_institutions
from payments.models import Institution, LedgerAccount
from tests.clock import SHANGHAI
from tests.payments.builders import refund, settle
from wallet import errors, services
from wallet.models import Entry, Holding, Transfer, Wallet
from wallet.views import transfers as views

pytestmark = pytest.mark.django_db

ONLINE = AuditEntry.Channel.ONLINE
MORNING = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
NIGHT = dt.datetime(2026, 3, 2, 22, 30, tzinfo=SHANGHAI)
SEND = reverse("wallet:transfer-send")
LIST = reverse("wallet:transfers")
OVERVIEW = reverse("wallet:overview")
HISTORY = reverse("wallet:history")
HISTORY_CSV = reverse("wallet:history-csv")
MOTHER_ID = "330102195004182022"
KEY = "6f1c8a52-8f0e-4c57-9a5e-0c1d2e3f4a5b"
FORM = {
    "relation": Relation.PARENT,
    "name": "王秀兰",
    "id_number": MOTHER_ID,
    "amount": "500.00",
    "idempotency_key": KEY,
}
LOCKED_TEXT = "密码输错次数过多，账号已被锁定30分钟"
# session, user, person with its region and the nav's unread count (4), then the page's own
# reads (a list page: a count and one page of rows with what it shows); fixed, whatever the rows
SEND_QUERIES = 7  # + account, pending, today's count
CHECK_QUERIES = 10  # + the register lookup, the recipient's region and wallet
LIST_QUERIES = 6
DETAIL_QUERIES = 5
OVERVIEW_QUERIES = 11  # + wallet, pending to close, holdings, pending received, send state (3)
HISTORY_QUERIES = 6
# the CSV: session, user, person, then the wallet's entries with their regions through one
# server-side cursor; no nav, no count
HISTORY_CSV_QUERIES = 4


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def now(time_machine):
    time_machine.move_to(MORNING, tick=False)
    return time_machine


@pytest.fixture
def cast(demo_unbound, now):
    people = demo_unbound.people
    services.wallet_open(
        person=people["王秀兰"],
        actor=people["王秀兰"].user,
        channel=ONLINE,
        confirm_place=True,
        confirm_phone=True,
        at=MORNING - dt.timedelta(hours=1),
    )
    return people["王建国"], people["王秀兰"]


def balance(person) -> Decimal:
    return LedgerAccount.objects.get(person=person).balance


def send(sender, recipient, amount="500.00", *, key="k1", at=MORNING):
    transfer, _created = services.transfer_send(
        sender=sender,
        actor=sender.user,
        channel=ONLINE,
        recipient=recipient,
        relation=Relation.PARENT,
        amount=Decimal(amount),
        idempotency_key=key,
        at=at,
    )
    return transfer


def decline(transfer, at=None):
    return services.transfer_decline(
        transfer=transfer, actor=transfer.wallet.person.user, channel=ONLINE, at=at
    )


def confirm(client, **changes):
    return client.post(SEND, {**FORM, "step": "confirm", "password": CITIZEN_PASSWORD, **changes})


def nothing_changed(wang):
    assert not Transfer.objects.exists()
    assert balance(wang) == Decimal("5000.00")


# ---------------------------------------------------------------------------------------------
# 医保钱包转账申请


def test_anonymous_visitors_are_sent_to_the_login(client, cast):
    transfer = send(*cast)
    detail = reverse("wallet:transfer", args=[transfer.public_id])
    for url in (SEND, LIST, detail, HISTORY, HISTORY_CSV):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_send_page_shows_the_form_with_a_fresh_key_and_the_limits(
    client, cast, django_assert_max_num_queries
):  # R24
    wang, _mother = cast
    client.force_login(wang.user)
    with django_assert_max_num_queries(SEND_QUERIES):
        response = client.get(SEND)
    assert response.status_code == 200
    form = response.context["form"]
    key = form.initial["idempotency_key"]
    page = text(response)
    assert f'name="idempotency_key" value="{key}"' in page
    for name in ("relation", "name", "id_number", "amount"):
        assert f'name="{name}"' in page
    assert "5000.00 元" in page and "2000.00 元" in page  # available, and the most in one
    assert "3 笔" in page
    assert client.get(SEND).context["form"].initial["idempotency_key"] != key  # one per page


def test_sending_in_two_steps_with_the_password(client, cast, django_assert_max_num_queries):
    wang, mother = cast
    client.force_login(wang.user)
    with django_assert_max_num_queries(CHECK_QUERIES):
        response = client.post(SEND, {**FORM, "step": "check"})
    assert response.status_code == 200
    page = text(response)
    assert "核对转账信息" in page
    assert "王*兰（父母）" in page and "王秀兰" not in page.replace('value="王秀兰"', "")
    assert "浙江省杭州市" in page and "500.00 元" in page
    assert "2026-03-03 06:00" in page  # R25: back if not accepted by 06:00 the next day
    assert "本笔之后，今天还可再转 2 笔" in page
    assert 'name="password"' in page and f'value="{KEY}"' in page
    assert not Transfer.objects.exists()  # step 1 changes nothing

    response = confirm(client)
    transfer = Transfer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("wallet:transfer", args=[transfer.public_id])
    assert transfer.idempotency_key == KEY and transfer.amount == Decimal("500.00")
    assert transfer.wallet.person == mother and transfer.status == Transfer.Status.PENDING
    assert balance(wang) == Decimal("4500.00")
    page = text(client.get(response["Location"]))
    assert str(views.SENT) % {"name": "王*兰", "amount": "500.00"} in page
    assert "待接收" in page and "2026-03-03 06:00" in page
    assert "接收500.00元" not in page  # the sender has no answer buttons


def test_a_double_submit_makes_one_transfer(client, cast):  # R24
    wang, _mother = cast
    client.force_login(wang.user)
    first = confirm(client)
    second = confirm(client)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Transfer.objects.count() == 1 and balance(wang) == Decimal("4500.00")
    assert str(views.SENT_BEFORE) in text(client.get(second["Location"]))


def test_back_from_the_confirmation_keeps_the_values_and_the_key(client, cast):
    wang, _mother = cast
    client.force_login(wang.user)
    response = client.post(SEND, {**FORM, "step": "edit"})
    page = text(response)
    assert 'name="amount"' in page and 'value="500.00"' in page and f'value="{KEY}"' in page
    assert 'name="password"' not in page
    nothing_changed(wang)


def test_a_wrong_password_is_counted_and_at_the_limit_signs_out(cast):  # R24
    wang, _mother = cast
    client = Client(REMOTE_ADDR="10.3.3.3")
    client.force_login(wang.user)
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = confirm(client, password=f"guess-{attempt}")
        assert response.status_code == 200
        assert response.context["form"].errors["password"] == [
            str(errors.TRANSFER_VERIFICATION_FAILED),
            str(TRIES_LEFT) % {"left": settings.AXES_FAILURE_LIMIT - 1 - attempt},
        ]
        assert "核对转账信息" in text(response)  # still the confirmation, values kept
    response = confirm(client, password="guess-last")
    assert response.status_code == 429 and LOCKED_TEXT in response.content.decode()
    assert "_auth_user_id" not in client.session
    nothing_changed(wang)
    # the right password cannot sign in now either
    login = Client(REMOTE_ADDR="10.1.1.1").post(
        reverse("accounts:login"), {"username": wang.id_number, "password": CITIZEN_PASSWORD}
    )
    assert login.status_code == 429


def test_an_empty_password_asks_for_it_and_sends_nothing(client, cast):
    wang, _mother = cast
    client.force_login(wang.user)
    response = confirm(client, password="")
    assert response.status_code == 200 and "password" in response.context["form"].errors
    nothing_changed(wang)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", errors.TRANSFER_AMOUNT_INVALID),
        ("1e5", errors.TRANSFER_AMOUNT_INVALID),
        ("NaN", errors.TRANSFER_AMOUNT_INVALID),
        ("5_00", errors.TRANSFER_AMOUNT_INVALID),
        ("", None),
        ("10.001", errors.TRANSFER_AMOUNT_FORMAT),
        ("0", errors.TRANSFER_AMOUNT_NOT_POSITIVE),
        ("-5", errors.TRANSFER_AMOUNT_NOT_POSITIVE),
        ("2000.01", errors.TRANSFER_AMOUNT_TOO_LARGE),
        ("9" * 400, errors.TRANSFER_AMOUNT_TOO_LARGE),
        ("99999999999999999999.99", errors.TRANSFER_AMOUNT_TOO_LARGE),
    ],
)
@pytest.mark.parametrize("step", ["check", "confirm"])
def test_a_malformed_or_huge_amount_is_a_field_error(client, cast, amount, message, step):
    wang, _mother = cast
    client.force_login(wang.user)
    response = client.post(
        SEND, {**FORM, "amount": amount, "step": step, "password": CITIZEN_PASSWORD}
    )
    assert response.status_code == 200
    amount_errors = response.context["form"].errors["amount"]
    if message is not None:
        assert amount_errors == [str(message)]
    nothing_changed(wang)


def _two_declined_and_one_more(wang, mother):
    for n, hour in enumerate((6, 7, 8)):
        transfer = send(wang, mother, "100.00", key=f"k{n}", at=MORNING.replace(hour=hour))
        decline(transfer, at=MORNING.replace(hour=hour, minute=30))


@pytest.mark.parametrize(
    ("prepare", "changes", "message", "field"),
    [
        (None, {"name": "王秀芳"}, errors.TRANSFER_RECIPIENT_NOT_FOUND, "id_number"),
        (None, {"id_number": "330102195004182014"}, errors.TRANSFER_RECIPIENT_NOT_FOUND, None),
        (None, {"amount": "2000.01"}, errors.TRANSFER_AMOUNT_TOO_LARGE, "amount"),
        ("floor", {"amount": "1500.00"}, errors.TRANSFER_ABOVE_AVAILABLE, "amount"),
        ("closed", {}, errors.TRANSFER_WALLET_NOT_OPEN, "id_number"),
        ("self", {}, errors.TRANSFER_TO_SELF, "id_number"),
        ("pending", {}, errors.TRANSFER_PENDING, None),
        ("three", {}, errors.TRANSFER_DAILY_LIMIT, None),
        ("night", {}, errors.TRANSFER_NIGHT, None),
    ],
)
@pytest.mark.parametrize("step", ["check", "confirm"])
def test_each_refusal_is_shown_and_changes_nothing(
    client, cast, now, prepare, changes, message, field, step
):  # R24
    wang, mother = cast
    if prepare == "floor":
        RegionPolicy.objects.filter(code="320100").update(retained_floor=Decimal("4000.00"))
    elif prepare == "closed":
        services.wallet_close(person=mother, actor=mother.user, channel=ONLINE)
    elif prepare == "self":
        changes = {"name": wang.name, "id_number": wang.id_number}
    elif prepare == "pending":
        send(wang, mother, "100.00", key="earlier", at=MORNING.replace(hour=7))
    elif prepare == "three":
        _two_declined_and_one_more(wang, mother)
    elif prepare == "night":
        now.move_to(NIGHT, tick=False)
    transfers = list(Transfer.objects.values_list("pk", "status"))
    money = balance(wang)
    audits = AuditEntry.objects.count()
    client.force_login(wang.user)
    response = client.post(SEND, {**FORM, **changes, "step": step, "password": CITIZEN_PASSWORD})
    assert response.status_code == 200
    page = text(response)
    said = str(message)
    if message is errors.TRANSFER_ABOVE_AVAILABLE:
        said = said % {"available": "1000.00", "floor": "4000.00"}
    assert page.count(said) == 1  # said once, in the page
    form = response.context["form"]
    if field is not None:
        assert said in form.errors[field]
    assert list(Transfer.objects.values_list("pk", "status")) == transfers
    assert balance(wang) == money and AuditEntry.objects.count() == audits


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        ("pending", errors.TRANSFER_PENDING),
        ("three", errors.TRANSFER_DAILY_LIMIT),
        ("night", errors.TRANSFER_NIGHT),
        ("floor", errors.TRANSFER_NOTHING_AVAILABLE),
    ],
)
def test_when_nothing_can_be_sent_the_page_says_why_instead_of_the_form(
    client, cast, now, prepare, message
):  # R24
    wang, mother = cast
    if prepare == "pending":
        send(wang, mother, "100.00", key="earlier", at=MORNING.replace(hour=7))
    elif prepare == "three":
        _two_declined_and_one_more(wang, mother)
    elif prepare == "night":
        now.move_to(NIGHT, tick=False)
    elif prepare == "floor":
        RegionPolicy.objects.filter(code="320100").update(retained_floor=Decimal("5000.00"))
    client.force_login(wang.user)
    page = text(client.get(SEND))
    said = str(message) % {"floor": "5000.00"} if prepare == "floor" else str(message)
    assert said in page and 'name="amount"' not in page
    assert said in text(client.get(OVERVIEW))  # the overview says it beside the button


def test_a_resident_has_no_account_to_send_from_and_is_told_why(client, cast):  # R24
    _wang, mother = cast
    client.force_login(mother.user)
    page = text(client.get(SEND))
    assert str(errors.TRANSFER_SENDER_NOT_EMPLOYEE) in page and 'name="amount"' not in page
    page = text(client.get(OVERVIEW))
    assert str(errors.TRANSFER_SENDER_NOT_EMPLOYEE) in page
    assert f'href="{SEND}"' not in page  # no send button, no send tab
    response = client.post(SEND, {**FORM, "name": "王建国", "id_number": "32010219750312123X"})
    assert str(errors.TRANSFER_SENDER_NOT_EMPLOYEE) in text(response)
    assert not Transfer.objects.exists()


def test_staff_are_sent_to_the_overview_and_a_transfer_is_a_404(client, cast):
    transfer = send(*cast)
    client.force_login(User.objects.get(username="js_clerk"))
    for url in (SEND, LIST, HISTORY):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == OVERVIEW
    assert client.get(reverse("wallet:transfer", args=[transfer.public_id])).status_code == 404


# ---------------------------------------------------------------------------------------------
# the lists and one transfer


def _many(wang, mother, n):
    """n transfers, each declined, a day apart before MORNING (3 a day would allow more)."""
    for i in range(n):
        at = MORNING - dt.timedelta(days=i + 1)
        decline(send(wang, mother, "10.00", key=f"old-{i}", at=at), at=at + dt.timedelta(hours=1))


def test_the_transfers_list_shows_both_sides_newest_first(
    client, cast, django_assert_max_num_queries
):
    wang, mother = cast
    _many(wang, mother, 1)
    send(wang, mother)
    for person in (wang, mother):
        client.force_login(person.user)
        with django_assert_max_num_queries(LIST_QUERIES):
            response = client.get(LIST)
        assert response.status_code == 200
        rows = response.context["transfers"]
        assert [t.amount for t in rows] == [Decimal("500.00"), Decimal("10.00")]
    page = text(response)  # the mother's
    assert "王*国转给我" in page and "待您接收" in page and "接收或拒收" in page
    assert "已拒收" in page


def test_the_list_queries_do_not_grow_with_rows_and_it_pages(
    client, cast, django_assert_max_num_queries
):
    wang, mother = cast
    _many(wang, mother, views.TRANSFERS_PER_PAGE + 3)
    client.force_login(wang.user)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(LIST)
    assert len(response.context["transfers"]) == views.TRANSFERS_PER_PAGE
    assert "?page=2" in text(response)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(LIST, {"page": 2})
    assert len(response.context["transfers"]) == 3


def test_the_list_filters_by_direction_and_status(client, cast, demo_unbound):
    wang, mother = cast
    _many(wang, mother, 2)
    send(wang, mother)
    # 赵敏 (杭州, employee) sends to 王建国, who opens a wallet: one transfer he received
    zhao = demo_unbound["赵敏"]
    services.wallet_open(
        person=wang, actor=wang.user, channel=ONLINE, confirm_place=True, confirm_phone=True
    )
    send(zhao, wang, "20.00", key="zhao")
    client.force_login(wang.user)

    def amounts(**query):
        return [t.amount for t in client.get(LIST, query).context["transfers"]]

    assert len(amounts()) == 4
    assert amounts(direction="received") == [Decimal("20.00")]
    assert amounts(direction="sent", status="pending") == [Decimal("500.00")]
    assert amounts(status="declined") == [Decimal("10.00")] * 2
    response = client.get(LIST, {"status": "lost"})
    assert str(views.FILTER_INVALID) in text(response) and "transfers" not in response.context


def test_another_persons_transfer_is_a_404(client, cast, demo_unbound):  # R24
    transfer = send(*cast)
    client.force_login(demo_unbound["李秀英"].user)
    url = reverse("wallet:transfer", args=[transfer.public_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"answer": "accept"}).status_code == 404
    assert client.get(LIST).context["transfers"] == []
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.PENDING


def test_an_unknown_id_is_a_404(client, cast):
    client.force_login(cast[0].user)
    url = reverse("wallet:transfer", args=["00000000-0000-4000-8000-000000000000"])
    assert client.get(url).status_code == 404


def test_the_recipient_accepts_and_the_money_is_owed_by_nanjing(
    client, cast, django_assert_max_num_queries
):  # R25
    wang, mother = cast
    transfer = send(wang, mother)
    url = reverse("wallet:transfer", args=[transfer.public_id])
    client.force_login(mother.user)
    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = client.get(url)
    page = text(response)
    assert "接收500.00元，存入我的医保钱包" in page and "拒收，退回对方个人账户" in page
    assert "请在2026-03-03 06:00前处理" in page and "江苏省南京市" in page

    response = client.post(url, {"answer": "accept"})
    assert response.status_code == 302 and response["Location"] == url
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.ACCEPTED
    wallet = Wallet.objects.get(person=mother)
    assert wallet.balance == Decimal("500.00")
    assert Holding.objects.get(wallet=wallet).region.code == "320100"
    page = text(client.get(url))
    assert str(views.ACCEPTED) % {"amount": "500.00"} in page and "已接收" in page
    assert "拒收，退回对方个人账户" not in page

    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        response = client.get(OVERVIEW)
    page = text(response)
    assert "500.00 元" in page and "资金所属地：江苏省南京市，500.00 元" in page


def test_the_recipient_declines_and_the_money_goes_back(client, cast):  # R25
    wang, mother = cast
    transfer = send(wang, mother)
    client.force_login(mother.user)
    url = reverse("wallet:transfer", args=[transfer.public_id])
    response = client.post(url, {"answer": "decline"})
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DECLINED and balance(wang) == Decimal("5000.00")
    assert str(views.DECLINED) % {"amount": "500.00"} in text(client.get(url))
    # answering again is refused in the page and changes nothing
    response = client.post(url, {"answer": "accept"})
    assert response.status_code == 200
    assert str(errors.TRANSFER_NOT_PENDING) in text(response)
    assert Wallet.objects.get(person=mother).balance == 0


def test_the_sender_cannot_answer_his_own_transfer(client, cast):  # R25
    wang, mother = cast
    transfer = send(wang, mother)
    client.force_login(wang.user)
    url = reverse("wallet:transfer", args=[transfer.public_id])
    response = client.post(url, {"answer": "accept"})
    assert response.status_code == 200 and str(errors.TRANSFER_NOT_FOR_YOU) in text(response)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.PENDING


def test_an_answer_after_the_deadline_is_refused_in_the_page(client, cast, now):  # R25
    wang, mother = cast
    transfer = send(wang, mother)
    now.move_to(dt.datetime(2026, 3, 3, 6, 1, tzinfo=SHANGHAI), tick=False)
    client.force_login(mother.user)
    url = reverse("wallet:transfer", args=[transfer.public_id])
    page = text(client.get(url))
    assert "接收500.00元" not in page and "已过接收截止时间" in page
    response = client.post(url, {"answer": "accept"})
    assert str(errors.TRANSFER_ANSWER_LATE) in text(response)
    assert Wallet.objects.get(person=mother).balance == 0


def test_a_missing_answer_is_said_and_changes_nothing(client, cast):
    wang, mother = cast
    transfer = send(wang, mother)
    client.force_login(mother.user)
    url = reverse("wallet:transfer", args=[transfer.public_id])
    response = client.post(url, {"answer": "maybe"})
    assert response.status_code == 200 and "请选择接收或拒收" in text(response)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.PENDING


def test_the_recipient_is_asked_in_the_inbox_with_a_link_to_her_transfers(client, cast):  # R25
    wang, mother = cast
    client.force_login(wang.user)
    confirm(client)
    notice = Notification.objects.get(kind=Notification.Kind.TRANSFER_RECEIVED)
    assert notice.recipient == mother and notice.link == LIST


def test_the_overview_lists_the_transfers_waiting_for_an_answer(
    client, cast, django_assert_max_num_queries
):  # R25
    wang, mother = cast
    transfer = send(wang, mother)
    client.force_login(mother.user)
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        response = client.get(OVERVIEW)
    page = text(response)
    assert "等您接收的转账" in page
    assert "王*国转给您 500.00 元，请在2026-03-03 06:00前处理" in page
    assert reverse("wallet:transfer", args=[transfer.public_id]) in page
    for url in (LIST, HISTORY):
        assert f'href="{url}"' in page
    client.force_login(wang.user)
    page = text(client.get(OVERVIEW))
    assert f'href="{SEND}"' in page and "等您接收的转账" not in page


# ---------------------------------------------------------------------------------------------
# 钱包明细 and the sender's statement


def _accepted(wang, mother, n=1):
    """n accepted transfers of 10.00, 11.00, ... one a day, the last on the day before MORNING."""
    for i in range(n):
        at = MORNING - dt.timedelta(days=n - i)
        transfer = send(wang, mother, f"{10 + i}.00", key=f"acc-{i}", at=at)
        services.transfer_accept(
            transfer=transfer, actor=mother.user, channel=ONLINE, at=at + dt.timedelta(hours=1)
        )


def test_the_history_lists_entries_with_the_owing_region(
    client, cast, django_assert_max_num_queries
):  # R23
    wang, mother = cast
    _accepted(wang, mother, 2)
    client.force_login(mother.user)
    with django_assert_max_num_queries(HISTORY_QUERIES):
        response = client.get(HISTORY)
    page = text(response)
    assert "共 2 条钱包明细" in page
    assert "转账入账 王*国" in page and "江苏省南京市" in page
    assert "+10.00" in page and "+11.00" in page and "21.00" in page
    rows = [entry for entry, _signed in response.context["entries"]]
    assert [e.amount for e in rows] == [Decimal("11.00"), Decimal("10.00")]  # newest first


def test_the_history_queries_do_not_grow_with_rows_and_it_pages(
    client, cast, django_assert_max_num_queries
):
    wang, mother = cast
    _accepted(wang, mother, 23)
    client.force_login(mother.user)
    with django_assert_max_num_queries(HISTORY_QUERIES):
        response = client.get(HISTORY)
    assert len(response.context["entries"]) == 20 and "?page=2" in text(response)
    with django_assert_max_num_queries(HISTORY_QUERIES):
        assert client.get(HISTORY, {"page": 2}).status_code == 200


def test_the_history_filters_by_kind_and_dates(client, cast):
    wang, mother = cast
    _accepted(wang, mother, 3)  # on 03-01, 02-28, 02-27
    client.force_login(mother.user)

    def count(**query):
        return client.get(HISTORY, query).context["page_obj"].paginator.count

    assert count() == 3
    assert count(kind="transfer_in") == 3 and count(kind="spend") == 0
    assert count(date_from="2026-02-28") == 2
    assert count(date_from="2026-02-27", date_to="2026-02-27") == 1
    response = client.get(HISTORY, {"date_from": "2026-03-01", "date_to": "2026-02-01"})
    assert str(views.FILTER_INVALID) in text(response)


def test_the_history_csv_has_a_bom_the_filtered_rows_and_no_identity_number(client, cast):
    wang, mother = cast
    _accepted(wang, mother, 3)
    client.force_login(mother.user)
    for response in (
        client.get(HISTORY_CSV, {"date_from": "2026-02-28"}),
        client.get(HISTORY, {"date_from": "2026-02-28", "format": "csv"}),
    ):
        assert response.status_code == 200 and response["Content-Type"] == "text/csv"
        assert "attachment" in response["Content-Disposition"]
        assert "no-store" in response["Cache-Control"]
        body = response.content.decode("utf-8")
        assert body.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(body[1:])))
        assert rows[0] == [
            "发生时间",
            "类别",
            "摘要",
            "金额（元）",
            "变动后余额（元）",
            "资金所属地",
        ]
        assert rows[1:] == [
            ["2026-03-01 10:00:00", "转账入账", "转账入账 王*国", "12.00", "33.00", "江苏省南京市"],
            ["2026-02-28 10:00:00", "转账入账", "转账入账 王*国", "11.00", "21.00", "江苏省南京市"],
        ]
        for number in (wang.id_number, mother.id_number):
            assert number not in body
    response = client.get(HISTORY_CSV, {"date_from": "not a date"})
    assert response.status_code == 302 and response["Location"].startswith(HISTORY + "?")


def test_the_history_csv_queries_do_not_grow_with_rows(client, cast, django_assert_num_queries):
    """One entry, then 30 of three kinds (in, spent at a hospital, refunded): the same queries,
    on both URLs and with a filter, and never more than HISTORY_CSV_QUERIES."""
    wang, mother = cast
    transfer = send(wang, mother, key="csv", at=MORNING - dt.timedelta(days=1))
    services.transfer_accept(
        transfer=transfer, actor=mother.user, channel=ONLINE, at=MORNING - dt.timedelta(hours=23)
    )
    client.force_login(mother.user)
    asks = [
        (HISTORY_CSV, {}),
        (HISTORY, {"format": "csv"}),
        (HISTORY_CSV, {"date_from": "2026-03-01"}),
    ]

    def download(url, query) -> list[list[str]]:
        response = client.get(url, query)
        assert response.status_code == 200 and response["Content-Type"] == "text/csv"
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))

    counts = []
    for url, query in asks:
        with CaptureQueriesContext(connection) as one_row:
            assert len(download(url, query)) == 2  # the header and the entry
        assert len(one_row) <= HISTORY_CSV_QUERIES
        counts.append(len(one_row))
    seed_institutions(log=lambda _line: None)  # demo_unbound stops before the institutions
    hospital = Institution.objects.get(code="HZ-HOSP-001")
    spent = [settle(hospital, mother, "5.00", at=MORNING) for _ in range(25)]
    for settlement in spent[:4]:
        refund(settlement, "5.00", at=MORNING)
    assert Entry.objects.filter(wallet__person=mother).count() == 30
    for (url, query), count in zip(asks, counts, strict=True):
        with django_assert_num_queries(count):
            rows = download(url, query)
        assert len(rows) == 31
        assert {row[1] for row in rows[1:]} == {"转账入账", "就医购药支付", "结算退款"}


def test_a_person_without_a_wallet_sees_an_empty_history(client, demo_unbound, now):
    client.force_login(demo_unbound["李秀英"].user)
    response = client.get(HISTORY)
    assert response.status_code == 200 and "共 0 条钱包明细" in text(response)
    body = client.get(HISTORY_CSV).content.decode("utf-8")
    assert body.count("\n") == 1  # the header only


def test_the_senders_statement_shows_the_transfer_out_and_its_return(client, cast):  # R24, R25
    wang, mother = cast
    decline(send(wang, mother, key="back"), at=MORNING + dt.timedelta(minutes=5))
    send(wang, mother, "300.00", key="out", at=MORNING + dt.timedelta(minutes=10))
    client.force_login(wang.user)
    response = client.get(reverse("payments:statement"))
    page = text(response)
    assert "医保钱包转账转出" in page and "医保钱包转账退回" in page
    assert "医保钱包转账 转给王*兰" in page and "医保钱包转账退回 王*兰拒收" in page
    assert "−300.00" in page and "+500.00" in page and "−500.00" in page
    assert "4700.00" in page
    kinds = client.get(reverse("payments:statement"), {"kind": "transfer_send"})
    assert kinds.context["page_obj"].paginator.count == 2


def test_entries_are_the_wallets_own(client, cast, demo_unbound):  # R23
    wang, mother = cast
    _accepted(wang, mother, 1)
    client.force_login(demo_unbound["李秀英"].user)
    response = client.get(HISTORY)
    assert response.context["page_obj"].paginator.count == 0 and "王*国" not in text(response)
    assert Entry.objects.count() == 1


@pytest.fixture
def back_to_chinese():
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_the_transfer_pages_speak_english_too(client, cast, back_to_chinese):
    wang, mother = cast
    client.force_login(wang.user)
    client.post(reverse("set_language"), {"language": "en", "next": SEND})
    page = text(client.get(SEND))
    assert "Wallet transfer" in page and "医保" not in page.split("<main", 1)[-1]
    page = text(client.post(SEND, {**FORM, "step": "check"}))
    assert "Check the transfer" in page
    response = confirm(client)
    page = text(client.get(response["Location"]))
    assert "Transfer details" in page
    for url in (LIST, HISTORY, OVERVIEW):
        page = text(client.get(url))
        assert "医保" not in page.split("<main", 1)[-1], url
