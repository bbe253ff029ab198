"""The wallet attacked as an adversary would (issue 15 review): hostile input on every wallet form,
ids of other people and other regions, replays with changed requests, leaks of identity numbers,
the day and night boundaries, and races not covered by test_races.py. Every hostile request is
answered in the page (or with a 404 for an id that is not the caller's), never a 500, and changes
nothing; after every legitimate sequence the books agree to the fen.

The rules each part attacks: R23 (the counter's open and close, the history and its CSV, closing
while a transfer arrives), R24 (the send form, the register lookup, the day and night limits),
R25 (answers by the wrong person, the 06:00 return, answers racing each other and the return),
R26 (the premium page, a premium racing a settlement) and R27 (the clearing pages, confirmations
at once, a refund racing the clearing run).

The cast (tests/demo.py): 王建国 (南京 320100, employee, 5000.00) sends to his mother 王秀兰
(杭州 330100, resident), who spends at HZ-HOSP-001 (杭州); 王德胜 (南京, resident) pays his
premium from his wallet."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse

from accounts.demo import CITIZEN_PASSWORD
from accounts.middleware import CONTROL_CHARACTERS_REFUSED
from accounts.models import AuditEntry, Notification, ResidentPremium
from family.models import Relation
from payments import services as payment_services
from payments.models import (
    Institution,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
    PremiumPayment,
)
from payments.services import premium as payment_premium
from tests.clock import NOW, SHANGHAI
from tests.payments.builders import refund, settle
from tests.threads import run_together
from tests.wallet.helpers import give, open_wallet
from wallet import errors, services
from wallet.models import ClearingBatch, ClearingLine, Entry, Holding, Transfer, Wallet
from wallet.services import clearing

D = Decimal
ONLINE = AuditEntry.Channel.ONLINE
Kind = LedgerAccount.Kind
MORNING = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
SEND = reverse("wallet:transfer-send")
MOTHER_ID = "330102195004182022"
WANG_ID = "32010219750312123X"
KEY = "6f1c8a52-8f0e-4c57-9a5e-0c1d2e3f4a5b"
FORM = {
    "relation": Relation.PARENT,
    "name": "王秀兰",
    "id_number": MOTHER_ID,
    "amount": "500.00",
    "idempotency_key": KEY,
}


def text(response) -> str:
    return html.unescape(response.content.decode())


def control_refused(response) -> bool:
    """The portal's one answer to a control character anywhere in a form or query (by design,
    accounts.middleware.ControlCharacterMiddleware): a 400 page that says so."""
    return response.status_code == 400 and str(CONTROL_CHARACTERS_REFUSED) in text(response)


def balance(person) -> Decimal:
    return LedgerAccount.objects.get(person=person).balance


def legs(**filters) -> Decimal:
    return LedgerLeg.objects.filter(**filters).aggregate(t=Sum("amount"))["t"] or D("0.00")


def send(sender, recipient, amount="500.00", *, key="k1", at=MORNING):
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


def state() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        list(Transfer.objects.order_by("pk").values_list("pk", "status", "amount")),
        list(Wallet.objects.order_by("pk").values_list("pk", "status", "balance")),
        list(Holding.objects.order_by("pk").values_list("pk", "balance")),
        Entry.objects.count(),
        LedgerTransaction.objects.count(),
        list(LedgerAccount.objects.filter(kind=Kind.PERSONAL).values_list("pk", "balance")),
        PremiumPayment.objects.count(),
        list(ClearingBatch.objects.order_by("pk").values_list("pk", "status")),
        AuditEntry.objects.count(),
        Notification.objects.count(),
    )


def assert_books_agree():
    """The money invariants, read directly, and the nightly reconciliation itself."""
    for wallet in Wallet.objects.all():
        held = Holding.objects.filter(wallet=wallet).aggregate(t=Sum("balance"))["t"] or 0
        entries = Entry.objects.filter(wallet=wallet).aggregate(t=Sum("amount"))["t"] or 0
        assert wallet.balance == held == entries and wallet.balance >= 0
    for region_id in Holding.objects.values_list("region_id", flat=True).distinct():
        held = Holding.objects.filter(region_id=region_id).aggregate(t=Sum("balance"))["t"]
        assert legs(account__kind=Kind.WALLET_FUNDS, account__region_id=region_id) == held
    pending = Transfer.objects.filter(status=Transfer.Status.PENDING)
    assert legs(account__kind=Kind.WALLET_IN_FLIGHT) == (
        pending.aggregate(t=Sum("amount"))["t"] or D("0.00")
    )
    assert legs(account__kind__in=[Kind.CLEARING_PAYABLE, Kind.CLEARING_RECEIVABLE]) == 0
    for batch in ClearingBatch.objects.all():
        signed = sum(
            (
                line.amount if line.owing_region_id == batch.payer_region_id else -line.amount
                for line in batch.lines.all()
            ),
            D("0.00"),
        )
        assert signed == batch.amount and batch.lines.count() == batch.lines_count
    run = payment_services.ledger_reconcile()
    assert run.ok, list(run.mismatches.values())


@pytest.fixture
def now(time_machine):
    time_machine.move_to(MORNING, tick=False)
    return time_machine


@pytest.fixture
def cast(demo_unbound, now):
    people = demo_unbound.people
    open_wallet(people["王秀兰"], at=MORNING - dt.timedelta(hours=1))
    return people["王建国"], people["王秀兰"]


# ---------------------------------------------------------------------------------------------
# ids that are not the caller's (R23 at the counter, R25 answering)


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_a_third_person_cannot_see_or_answer_a_transfer(client, cast, demo_unbound, answer):
    wang, mother = cast
    transfer = send(wang, mother)
    before = state()
    url = reverse("wallet:transfer", args=[transfer.public_id])
    client.force_login(demo_unbound.people["赵敏"].user)
    assert client.get(url).status_code == 404
    assert client.post(url, {"answer": answer}).status_code == 404
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["accept", "decline", "ACCEPT", "", "accept\x00", "x" * 5000])
def test_the_sender_posting_an_answer_is_told_and_nothing_changes(client, cast, answer):
    wang, mother = cast
    transfer = send(wang, mother)
    before = state()
    client.force_login(wang.user)
    response = client.post(
        reverse("wallet:transfer", args=[transfer.public_id]), {"answer": answer}
    )
    if control_refused(response):
        assert state() == before
        return
    assert response.status_code == 200
    page = text(response)
    assert str(errors.TRANSFER_NOT_FOR_YOU) in page or "请选择接收或拒收" in page
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tail",
    ["not-a-uuid", "6f1c8a52-8f0e-4c57-9a5e-0c1d2e3f4a5", "%00", "..%2F..%2Fadmin", "1' OR '1'='1"],
)
def test_malformed_and_guessed_ids_are_404(client, cast, tail):
    wang, _mother = cast
    client.force_login(wang.user)
    assert client.get(f"/wallet/transfers/{tail}/").status_code == 404
    assert client.get(f"/wallet/transfers/{uuid.uuid4()}/").status_code == 404
    assert (
        client.post(f"/wallet/transfers/{uuid.uuid4()}/", {"answer": "accept"}).status_code == 404
    )


@pytest.mark.django_db
def test_counter_pages_of_another_regions_person_are_404(client, cast, demo_unbound):
    _wang, mother = cast  # 杭州: outside js_clerk's 320100 and 320200
    client.force_login(demo_unbound.staff["js_clerk"])
    before = state()
    for name in ("staff:person", "staff:wallet-transfers", "staff:wallet-open",
                 "staff:wallet-close"):  # fmt: skip
        url = reverse(name, args=[mother.public_id])
        assert client.get(url).status_code == 404, name
        if name.endswith(("open", "close")):  # the others take no POST (405)
            assert client.post(url, {"documents_seen": ["id_card"]}).status_code == 404, name
    assert client.get(reverse("staff:person", args=[uuid.uuid4()])).status_code == 404
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "documents",
    [[], ["passport"], ["id_card' --"], ["x" * 10000], ["\x00"]],
)
@pytest.mark.parametrize("page", ["staff:wallet-open", "staff:wallet-close"])
def test_counter_open_and_close_with_hostile_documents(client, cast, demo_unbound, documents, page):
    wang, _mother = cast
    if page == "staff:wallet-close":
        open_wallet(wang)
    client.force_login(demo_unbound.staff["js_clerk"])
    before = state()
    data = {"documents_seen": documents, "confirm_place": "on", "confirm_phone": "on"}
    response = client.post(reverse(page, args=[wang.public_id]), data)
    if not control_refused(response):
        assert response.status_code == 200
        assert response.context["form"].errors.get("documents_seen")
    assert state() == before


# ---------------------------------------------------------------------------------------------
# hostile form values (R24 the send form, R23 the history, R25 the transfer list)


HOSTILE_AMOUNTS = [
    "1e3", "5E+2", "５００", "٥٠٠", "-0", "-0.00", "+500", "500,00", "0x1F4", "NaN", "Infinity",
    "500.00\x00", "500.00\n", " 500.00 ", "\u200b500", "500.", ".5", "1_000", "0.001", "1" * 5000,
    "0" * 5000 + "1", "500.00" + "0" * 5000,
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("amount", HOSTILE_AMOUNTS)
@pytest.mark.parametrize("step", ["check", "confirm"])
def test_hostile_amounts_never_send_anything_odd(client, cast, amount, step):
    wang, _mother = cast
    client.force_login(wang.user)
    before = state()
    response = client.post(
        SEND, {**FORM, "amount": amount, "step": step, "password": CITIZEN_PASSWORD}
    )
    if control_refused(response):
        assert state() == before
        return
    if response.status_code == 302:  # only a plain ASCII amount may go: exactly that amount
        transfer = Transfer.objects.get()
        assert amount.strip().isascii() and D(amount.strip()) == transfer.amount
        return
    assert response.status_code == 200
    form = response.context["form"]
    if step == "check" and "password" in form.fields:  # the confirmation of a plain amount
        assert amount.strip().isascii() and form.initial["amount"] == f"{D(amount.strip()):.2f}"
    else:
        assert form.errors.get("amount")
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {"idempotency_key": "x" * 5000},
        {"relation": "friend"},
        {"relation": "parent\x00"},
        {"name": "王秀兰" * 100},
        {"name": "王秀兰\x00"},
        {"name": "\u202e兰秀王"},
        {"id_number": MOTHER_ID + "\x00"},
        {"id_number": "３３０１０２１９５００４１８２０２２"},
        {"id_number": MOTHER_ID * 50},
        {"id_number": "' OR 1=1 --"},
        {"step": "confirm", "password": "x" * 100000},
    ],
)
def test_tampered_fields_are_refused_in_the_page(client, cast, changes):
    wang, _mother = cast
    client.force_login(wang.user)
    before = state()
    data = {**FORM, "step": "confirm", "password": CITIZEN_PASSWORD, **changes}
    response = client.post(SEND, data)
    if control_refused(response):
        assert state() == before
        return
    if response.status_code == 302:  # a tampered value that was cleaned into a valid one
        transfer = Transfer.objects.get()
        assert transfer.wallet.person.id_number == MOTHER_ID
        assert transfer.amount == D("500.00")
        return
    assert response.status_code == 200
    assert response.context["form"].errors
    assert state()[:-2] == before[:-2]


@pytest.mark.django_db
def test_changing_the_hidden_amount_after_the_transfer_went_is_refused(client, cast):
    wang, _mother = cast
    client.force_login(wang.user)
    data = {**FORM, "step": "confirm", "password": CITIZEN_PASSWORD}
    assert client.post(SEND, data).status_code == 302
    before = state()
    for changes in ({"amount": "1500.00"}, {"id_number": WANG_ID, "name": "王建国"}):
        response = client.post(SEND, {**data, **changes})
        assert response.status_code == 200, changes
        page = text(response)
        # the same key with another amount is said; to himself, the page says first that one
        # transfer is pending (the form is not shown then)
        assert str(errors.TRANSFER_KEY_REUSED) in page or str(errors.TRANSFER_PENDING) in page
    assert state()[:5] == before[:5]


@pytest.mark.django_db
def test_an_unknown_number_and_a_wrong_name_get_the_same_answer(client, cast):
    wang, _mother = cast
    client.force_login(wang.user)
    unknown = client.post(SEND, {**FORM, "id_number": "110101199003074418", "step": "check"})
    wrong_name = client.post(SEND, {**FORM, "name": "李四", "step": "check"})
    assert unknown.status_code == wrong_name.status_code == 200
    assert unknown.context["form"].errors == wrong_name.context["form"].errors
    assert str(errors.TRANSFER_RECIPIENT_NOT_FOUND) in text(unknown)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"kind": "garbage"},
        {"kind": "spend\x00"},
        {"date_from": "0000-01-01"},
        {"date_from": "9999-12-31"},
        {"date_from": "99999-01-01"},
        {"date_to": "2026-02-30"},
        {"date_from": "2026-03-02", "date_to": "2026-03-01"},
        {"date_from": "x" * 5000},
        {"page": "-1"},
        {"page": "9" * 500},
        {"page": "abc"},
    ],
)
@pytest.mark.parametrize("as_csv", [False, True])
def test_hostile_history_filters(client, cast, query, as_csv):
    wang, mother = cast
    give(wang, mother, "100.00", at=MORNING)
    client.force_login(mother.user)
    before = state()
    query = {**query, **({"format": "csv"} if as_csv else {})}
    response = client.get(reverse("wallet:history"), query)
    if control_refused(response):
        assert state() == before
        return
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("wallet:history"))
        assert "format=csv" not in response["Location"]
        response = client.get(response["Location"])
        assert response.status_code == 200
    if response["Content-Type"].startswith("text/html"):
        page = text(response)
        assert "查询条件有误" in page or "转账入账" in page or "暂无" in page or "明细" in page
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [{"direction": "both"}, {"status": "lost"}, {"status": "pending\x00"}, {"page": "0"}],
)
def test_hostile_transfer_list_filters(client, cast, query):
    wang, mother = cast
    send(wang, mother)
    client.force_login(mother.user)
    response = client.get(reverse("wallet:transfers"), query)
    assert response.status_code == 200 or control_refused(response)


# ---------------------------------------------------------------------------------------------
# the premium page (R26)


@pytest.fixture
def father(demo, client, time_machine):
    time_machine.move_to(NOW, tick=False)
    person = demo.people["王德胜"]
    open_wallet(person)
    give(demo.people["王建国"], person, "1500.00")
    client.force_login(person.user)
    return person


@pytest.mark.django_db
@pytest.mark.parametrize(
    "year", ["-1", "0", "2027.0", "2027\x00", "9" * 5000, "1e3", "２０２７", "", "2027 OR 1=1"]
)
def test_hostile_years_on_the_premium_page(client, demo, father, year):
    before = state()
    url = reverse("wallet:premium")
    shown = client.get(url, {"year": year})
    assert shown.status_code == 200 or control_refused(shown)
    response = client.post(url, {"year": year, "confirm": "on", "key": "k"})
    if not control_refused(response):
        assert response.status_code == 200 and response.context["form"].errors
    assert state() == before


@pytest.mark.django_db
def test_the_premium_key_replayed_for_another_year_is_refused(client, demo, father):
    """A page's key is made once: the browser's back button brings the same key with another
    year. The payment made is not an answer to a request for another year."""
    ResidentPremium.objects.create(
        region=father.region, year=2026, amount=D("380.00"),
        collection_start=dt.date(2025, 9, 1), collection_end=dt.date(2025, 12, 31),
        benefit_start=dt.date(2026, 1, 1), benefit_end=dt.date(2026, 12, 31),
    )  # fmt: skip
    first = client.post(reverse("wallet:premium"), {"year": "2027", "confirm": "on", "key": "k"})
    assert first.status_code == 302
    before = state()
    again = client.post(reverse("wallet:premium"), {"year": "2026", "confirm": "on", "key": "k"})
    assert again.status_code == 200, "another year's request answered with 2027's receipt"
    assert str(payment_premium.IDEMPOTENCY_CONFLICT) in text(again)
    assert state() == before
    with pytest.raises(ValidationError) as refused:
        services.wallet_premium_pay(
            person=father, year=2026, idempotency_key="k", actor=father.user
        )
    assert refused.value.code == "idempotency_conflict"


# ---------------------------------------------------------------------------------------------
# clearing pages (R27)


@pytest.fixture
def batch(demo, time_machine):
    time_machine.move_to(NOW, tick=False)
    wang, mother = demo.people["王建国"], demo.people["王秀兰"]
    open_wallet(mother)
    give(wang, mother, "500.00", at=NOW)
    settlement = settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "300.00")
    refund(settlement, "100.00")
    [made] = clearing.clearing_run(at=NOW + dt.timedelta(days=1))
    return made


@pytest.mark.django_db
@pytest.mark.parametrize(
    "side", ["", "both", "PAYER", "payer\x00", "payer_confirmed_at", "__class__", "x" * 10000]
)
def test_clearing_confirm_with_a_garbage_side(client, demo, batch, side):
    client.force_login(demo.staff["admin"])
    before = state()
    url = reverse("staff:clearing-confirm", args=[batch.public_id])
    response = client.post(url, {"side": side}, follow=True)
    if not control_refused(response):
        assert response.status_code == 200
        assert "只能由该批次所涉统筹区的经办人员确认本方" in text(response)
    assert state()[:-2] == before[:-2]
    batch.refresh_from_db()
    assert batch.payer_confirmed_at is None and batch.payee_confirmed_at is None


@pytest.mark.django_db
def test_clearing_pages_of_a_batch_of_other_regions_are_404(client, demo, batch):
    client.force_login(demo.staff["js_super"])
    for name in ("staff:clearing-batch", "staff:clearing-csv", "staff:clearing-confirm"):
        url = reverse(name, args=[uuid.uuid4()])
        assert (client.post if "confirm" in name else client.get)(url).status_code == 404
    assert client.get("/staff/clearing/not-a-uuid/").status_code == 404
    assert client.get(reverse("staff:clearing"), {"page": "x" * 1000}).status_code == 200


# ---------------------------------------------------------------------------------------------
# identity numbers (R24, R25: what each side of a transfer is shown)


@pytest.mark.django_db
def test_no_full_identity_number_reaches_the_other_side(client, demo, now):
    wang, mother = demo.people["王建国"], demo.people["王秀兰"]
    open_wallet(mother, at=MORNING - dt.timedelta(hours=1))
    first = send(wang, mother, "300.00", key="a")
    services.transfer_accept(transfer=first, actor=mother.user, channel=ONLINE)
    second = send(wang, mother, "200.00", key="b")
    settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "100.00", at=MORNING)
    pages = {
        mother: [
            reverse("wallet:overview"),
            reverse("wallet:transfers"),
            reverse("wallet:transfer", args=[first.public_id]),
            reverse("wallet:transfer", args=[second.public_id]),
            reverse("wallet:history"),
            reverse("wallet:history-csv"),
            reverse("accounts:inbox"),
        ],
        wang: [
            reverse("wallet:overview"),
            reverse("wallet:transfers"),
            reverse("wallet:transfer", args=[first.public_id]),
            reverse("wallet:transfer", args=[second.public_id]),
            reverse("payments:statement"),
        ],
    }
    other = {mother: WANG_ID, wang: MOTHER_ID}
    for person, urls in pages.items():
        client.force_login(person.user)
        for url in urls:
            body = text(client.get(url))
            assert other[person] not in body and other[person].lower() not in body, url
    for notification in Notification.objects.all():
        shown = f"{notification}{getattr(notification, 'params', '')}"
        assert WANG_ID not in shown and MOTHER_ID not in shown
    for audit in AuditEntry.objects.filter(action__startswith="wallet."):
        assert WANG_ID not in str(audit.before) + str(audit.after)
        assert MOTHER_ID not in str(audit.before) + str(audit.after)


# ---------------------------------------------------------------------------------------------
# time (R24 the day and the night pause, R25 the 06:00 return)


@pytest.mark.django_db
def test_the_three_a_day_limit_starts_again_at_shanghai_midnight(cast):
    wang, mother = cast
    day = dt.datetime(2026, 3, 2, 21, 0, tzinfo=SHANGHAI)
    for n in range(3):
        transfer = send(wang, mother, "10.00", key=f"d{n}", at=day + dt.timedelta(minutes=n))
        services.transfer_decline(
            transfer=transfer, actor=mother.user, channel=ONLINE,
            at=day + dt.timedelta(minutes=n, seconds=30),
        )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        send(wang, mother, "10.00", key="d3", at=day.replace(hour=21, minute=59, second=59))
    assert refused.value.code == "transfer_daily_limit"
    # 13:59:59 UTC is 21:59:59 in Shanghai: the same local day, whatever zone the instant has
    with pytest.raises(ValidationError) as refused:
        send(wang, mother, "10.00", key="d4", at=dt.datetime(2026, 3, 2, 13, 59, 59, tzinfo=dt.UTC))
    assert refused.value.code == "transfer_daily_limit"
    morning = send(
        wang, mother, "10.00", key="d5", at=dt.datetime(2026, 3, 3, 6, 0, tzinfo=SHANGHAI)
    )
    assert morning.status == Transfer.Status.PENDING
    assert_books_agree()


@pytest.mark.django_db
def test_a_send_at_21_59_59_is_answerable_until_06_00_and_returned_after(cast):
    wang, mother = cast
    late = dt.datetime(2026, 3, 2, 21, 59, 59, tzinfo=SHANGHAI)
    transfer = send(wang, mother, "100.00", at=late)
    assert transfer.answer_by == dt.datetime(2026, 3, 3, 6, 0, tzinfo=SHANGHAI)
    with pytest.raises(ValidationError) as refused:
        send(wang, mother, "100.00", key="night", at=late + dt.timedelta(seconds=1))
    assert refused.value.code == "transfer_night"
    assert services.transfers_return_due(at=transfer.answer_by - dt.timedelta(microseconds=1)) == 0
    with pytest.raises(ValidationError) as refused:
        services.transfer_accept(
            transfer=transfer, actor=mother.user, channel=ONLINE, at=transfer.answer_by
        )
    assert refused.value.code == "transfer_answer_late"
    assert_books_agree()


@pytest.mark.django_db
def test_the_return_pass_run_days_late_and_twice_returns_once(cast):
    wang, mother = cast
    transfer = send(wang, mother, "100.00")
    late = transfer.answer_by + dt.timedelta(days=5)
    assert services.transfers_return_due(at=late) == 1
    assert services.transfers_return_due(at=late) == 0
    assert services.transfers_return_due(at=late + dt.timedelta(days=1)) == 0
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.RETURNED and balance(wang) == D("5000.00")
    assert Notification.objects.filter(kind=Notification.Kind.TRANSFER_RETURNED).count() == 2
    assert AuditEntry.objects.filter(action="wallet.transfer_returned").count() == 1
    with pytest.raises(ValidationError) as refused:
        services.transfer_decline(transfer=transfer, actor=mother.user, channel=ONLINE, at=late)
    assert refused.value.code == "transfer_not_pending"
    # the next day he may send again: a returned transfer no longer pends
    again = send(wang, mother, "100.00", key="k2", at=MORNING + dt.timedelta(days=6))
    assert again.status == Transfer.Status.PENDING
    assert_books_agree()


# ---------------------------------------------------------------------------------------------
# races on real connections (tests/threads.py): R25 answers and the return, R23 closing,
# R26 a premium and a settlement, R27 confirmations and the clearing run


@pytest.fixture
def live(demo_transactional):
    from tests.demo import people

    cast = people()
    open_wallet(cast["王秀兰"], at=MORNING - dt.timedelta(hours=1))
    return cast


def _answer(transfer, how, at):
    call = services.transfer_accept if how == "accept" else services.transfer_decline
    return lambda: call(transfer=transfer, actor=transfer.wallet.person.user, channel=ONLINE, at=at)


@pytest.mark.django_db(transaction=True)
def test_accept_and_decline_at_once_one_wins(live):
    wang, mother = live["王建国"], live["王秀兰"]
    transfer = send(wang, mother, "300.00")
    at = MORNING + dt.timedelta(hours=1)
    outcomes = run_together(_answer(transfer, "accept", at), _answer(transfer, "decline", at))
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
    transfer.refresh_from_db()
    assert transfer.status in (Transfer.Status.ACCEPTED, Transfer.Status.DECLINED)
    wallet = Wallet.objects.get(person=mother)
    if transfer.status == Transfer.Status.ACCEPTED:
        assert wallet.balance == D("300.00") and balance(wang) == D("4700.00")
    else:
        assert wallet.balance == 0 and balance(wang) == D("5000.00")
    assert_books_agree()


@pytest.mark.django_db(transaction=True)
def test_a_decline_racing_the_return_pass_gives_the_money_back_once(live):
    wang, mother = live["王建国"], live["王秀兰"]
    transfer = send(wang, mother, "300.00")
    just_before = transfer.answer_by - dt.timedelta(seconds=1)
    outcomes = run_together(
        _answer(transfer, "decline", just_before),
        lambda: services.transfers_return_due(at=transfer.answer_by),
        lambda: services.transfers_return_due(at=transfer.answer_by + dt.timedelta(days=2)),
    )
    assert all(kind in ("ok", "refused") for kind, _ in outcomes), outcomes
    transfer.refresh_from_db()
    assert transfer.status in (Transfer.Status.DECLINED, Transfer.Status.RETURNED)
    assert balance(wang) == D("5000.00")
    back = LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.TRANSFER_RETURN)
    assert back.count() == 1
    assert_books_agree()


@pytest.mark.django_db(transaction=True)
def test_closing_racing_an_incoming_send(live):
    wang, mother = live["王建国"], live["王秀兰"]
    close = lambda: services.wallet_close(person=mother, actor=mother.user, channel=ONLINE)  # noqa: E731
    outcomes = run_together(lambda: send(wang, mother, "300.00", key="race"), close)
    kinds = [kind for kind, _ in outcomes]
    assert "error" not in kinds, outcomes
    wallet = Wallet.objects.get(person=mother)
    pending = Transfer.objects.filter(status=Transfer.Status.PENDING)
    # never a pending transfer to a closed wallet
    assert not (wallet.status == Wallet.Status.CLOSED and pending.exists())
    assert kinds.count("ok") == 1
    assert_books_agree()


@pytest.mark.django_db(transaction=True)
def test_a_premium_racing_a_settlement_on_the_same_wallet(live):
    father = live["王德胜"]
    open_wallet(father, at=NOW - dt.timedelta(hours=1))
    give(live["王建国"], father, "500.00", at=NOW)
    premium = lambda: services.wallet_premium_pay(  # noqa: E731
        person=father, year=2027, idempotency_key="race", actor=father.user, at=NOW
    )
    hospital = Institution.objects.get(code="HZ-HOSP-001")  # 杭州: a cross-region spend
    spend = lambda: settle(hospital, father, "300.00", at=NOW, key="race-spend")  # noqa: E731
    outcomes = run_together(premium, spend)
    assert "error" not in [kind for kind, _ in outcomes], outcomes
    wallet = Wallet.objects.get(person=father)
    paid = PremiumPayment.objects.filter(member=father).count()
    spent = -(Entry.objects.filter(wallet=wallet, kind=Entry.Kind.SPEND).aggregate(
        t=Sum("amount"))["t"] or 0)  # fmt: skip
    assert wallet.balance == D("500.00") - paid * D("400.00") - spent >= 0
    assert_books_agree()
    clearing.clearing_run(at=NOW + dt.timedelta(days=1))
    assert_books_agree()


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_of_one_side_and_both_sides_at_once(live):
    from accounts.models import User

    wang, mother = live["王建国"], live["王秀兰"]
    give(wang, mother, "500.00", at=NOW)
    settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "300.00", at=NOW)
    [batch] = clearing.clearing_run(at=NOW + dt.timedelta(days=1))
    admin = User.objects.get(username="admin")
    confirm = lambda side: lambda: clearing.clearing_confirm(batch=batch, actor=admin, side=side)  # noqa: E731
    outcomes = run_together(confirm("payer"), confirm("payer"), confirm("payer"))
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused", "refused"], outcomes
    outcomes = run_together(confirm("payee"), confirm("payee"))
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
    batch.refresh_from_db()
    assert batch.status == ClearingBatch.Status.SETTLED
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CLEARING).count() == 1
    assert legs(account__kind=Kind.CLEARING_PAYABLE) == 0
    assert legs(account__kind=Kind.CLEARING_RECEIVABLE) == 0
    assert_books_agree()


@pytest.mark.django_db(transaction=True)
def test_a_refund_racing_the_clearing_run_is_cleared_once(live):
    wang, mother = live["王建国"], live["王秀兰"]
    give(wang, mother, "500.00", at=NOW)
    hospital = Institution.objects.get(code="HZ-HOSP-001")
    settlement = settle(hospital, mother, "300.00", at=NOW)
    late = NOW.replace(hour=21)
    night = NOW + dt.timedelta(days=1)
    outcomes = run_together(
        lambda: refund(settlement, "100.00", key="race-refund", at=late),
        lambda: clearing.clearing_run(at=night),
    )
    assert "error" not in [kind for kind, _ in outcomes], outcomes
    clearing.clearing_run(at=night)  # a second run the same night
    clearing.clearing_run(at=night + dt.timedelta(days=1))  # and the next night's
    lines = ClearingLine.objects.all()
    assert sorted(lines.values_list("amount", flat=True)) == [D("-100.00"), D("300.00")]
    total = sum(
        (b.amount if b.payer_region.code == "320100" else -b.amount
         for b in ClearingBatch.objects.select_related("payer_region")),
        D("0.00"),
    )  # fmt: skip
    assert total == D("200.00")  # 南京 owes 杭州 the 200.00 spent net, counted once
    assert_books_agree()
