"""The wallet at the counter (R18, R20, R23): the wallet panel of the staff person page and the
person's transfers, and a clerk opening or closing a wallet for a person with the documents seen.

The demo cast (`demo`, tests/conftest.py) on PostgreSQL through Django's test client; wallets and
transfers are made through the real services. Every change is audited with channel counter and
the clerk as actor (R20); a clerk of another region gets a 404 (R23 pages are region-scoped as
every staff page); a refusal of the services is shown by its code and changes nothing."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, User
from accounts.staff import ADMINISTRATOR
from family.models import Relation
from tests.clock import SHANGHAI
from tests.family.test_error_codes import _raised
from wallet import errors, services, staff_views
from wallet.models import Transfer, Wallet
from wallet.selectors.staff import RECENT_TRANSFERS

ONLINE, COUNTER = AuditEntry.Channel.ONLINE, AuditEntry.Channel.COUNTER
MORNING = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
OPEN_POST = {"documents_seen": ["id_card"], "confirm_place": "on", "confirm_phone": "on"}
CLOSE_POST = {"documents_seen": ["ss_card"]}
# The counter pages: session, user, the user's and the groups' permissions, the user's regions,
# the person with region and login, the wallet; a POST adds the service's locks (person,
# wallet), its write and audit entry, the message's session write, and the savepoints of the
# transactions (six under the test's own transaction).
COUNTER_PAGE_QUERIES = 8
COUNTER_POST_QUERIES = 18
# The transfers list: as a counter page, then the count and the page of transfers.
TRANSFERS_PAGE_QUERIES = 8


def text(response) -> str:
    return html.unescape(response.content.decode())


def url(name: str, person: InsuredPerson) -> str:
    return reverse(f"staff:{name}", args=[person.public_id])


def open_online(person: InsuredPerson, at: dt.datetime = MORNING - dt.timedelta(hours=1)):
    return services.wallet_open(
        person=person,
        actor=person.user,
        channel=ONLINE,
        confirm_place=True,
        confirm_phone=True,
        at=at,
    )


def send(sender, recipient, *, key: str, at: dt.datetime = MORNING, amount: str = "100.00"):
    transfer, _created = services.transfer_send(
        sender=sender,
        actor=sender.user,
        channel=ONLINE,
        recipient=recipient,
        relation=Relation.SPOUSE,
        amount=Decimal(amount),
        idempotency_key=key,
        at=at,
    )
    return transfer


def accept(transfer: Transfer) -> Transfer:
    return services.transfer_accept(
        transfer=transfer,
        actor=transfer.wallet.person.user,
        channel=ONLINE,
        at=transfer.sent_at + dt.timedelta(minutes=5),
    )


def wallet_audit(person: InsuredPerson) -> list[AuditEntry]:
    """The person's wallet opening and closing entries, oldest first."""
    return list(
        AuditEntry.objects.filter(person=person, action__in=["wallet.open", "wallet.close"])
        .select_related("actor")
        .order_by("pk")
    )


@pytest.fixture
def clerk(client, demo):
    client.force_login(demo.staff["js_clerk"])
    return demo.staff["js_clerk"]


# ---------------------------------------------------------------------------------------------
# the wallet panel and the transfers (R23)


def test_the_person_page_shows_a_wallet_not_yet_opened_with_the_open_button(client, clerk, demo):
    wang = demo["王建国"]
    page = text(client.get(url("person", wang)))
    assert "医保钱包" in page and "未开通" in page
    assert url("wallet-open", wang) in page
    assert url("wallet-close", wang) not in page
    assert "没有转出或转入的钱包转账。" in page


def test_the_panel_shows_balance_holdings_by_region_and_transfers_masked(client, clerk, demo):
    """R23: 王建国 sent 李秀英 two transfers, one accepted: her wallet holds 100.00 owed by
    南京's fund, and his pending one is on both pages; neither page shows the other's name or
    identity number in full."""
    wang, li = demo["王建国"], demo["李秀英"]
    open_online(li)
    accept(send(wang, li, key="a"))
    send(wang, li, key="b", at=MORNING + dt.timedelta(hours=1), amount="250.00")

    page = text(client.get(url("person", li)))
    assert "已开通" in page and "100.00元" in page
    assert "江苏省南京市（320100）" in page  # the holding's owing region
    assert "王*国" in page and wang.masked_id_number in page
    assert wang.id_number not in page and ">王建国<" not in page
    assert "转入" in page and "已接收" in page and "待接收" in page and "250.00" in page
    assert url("wallet-close", li) in page  # open: the close button (the page may refuse)

    page = text(client.get(url("person", wang)))
    assert "李*英" in page and li.id_number not in page
    assert "转出" in page and "对方是其配偶" in page
    assert url("wallet-open", wang) in page  # he has no wallet himself
    assert url("wallet-transfers", wang) not in page  # two transfers: no list link


def test_a_long_history_links_to_the_full_transfer_list(client, clerk, demo):
    wang, li = demo["王建国"], demo["李秀英"]
    open_online(li)
    count = RECENT_TRANSFERS + 2
    for i in range(count):  # three a day (R24), each accepted before the next
        at = MORNING + dt.timedelta(days=i // 3, hours=i % 3)
        accept(send(wang, li, key=f"k{i}", at=at))
    page = client.get(url("person", li))
    assert len(page.context["wallet"].transfers) == RECENT_TRANSFERS
    assert url("wallet-transfers", li) in text(page)

    listing = client.get(url("wallet-transfers", li))
    assert listing.status_code == 200
    assert len(listing.context["rows"]) == count
    body = text(listing)
    assert "王*国" in body and wang.id_number not in body
    assert f"{count * 100:.2f}" not in body  # rows, not a total
    assert body.count("已接收") == count


def test_the_person_page_query_count_does_not_grow_with_transfers(
    client, clerk, demo, django_assert_num_queries
):
    """The panel costs three queries, whatever the wallet holds and however many transfers
    (tests/staff/test_person_page.py counts the whole page)."""
    from tests.staff.test_person_page import PERSON_PAGE_QUERIES

    wang, li = demo["王建国"], demo["李秀英"]
    open_online(li)
    client.get(url("person", li))  # warm per-process caches
    with CaptureQueriesContext(connection) as empty:
        client.get(url("person", li))
    assert len(empty) <= PERSON_PAGE_QUERIES
    for i in range(RECENT_TRANSFERS + 1):
        accept(send(wang, li, key=f"k{i}", at=MORNING + dt.timedelta(days=i // 3, hours=i % 3)))
    with django_assert_num_queries(len(empty)):
        client.get(url("person", li))
    with django_assert_num_queries(TRANSFERS_PAGE_QUERIES):
        client.get(url("wallet-transfers", li))


def test_staff_without_the_wallet_permission_see_no_panel(client, demo):
    """The person page stays open to all staff who read people; the panel needs view_wallet."""
    reader = User.objects.create_user(username="reader", password="x", is_staff=True)
    group = Group.objects.create(name="只读")
    group.permissions.set(
        Group.objects.get(name=ADMINISTRATOR).permissions.exclude(codename="view_wallet")
    )
    reader.groups.set([group])
    reader.regions.set(RegionPolicy.objects.filter(code="320100"))
    client.force_login(reader)
    wang = demo["王建国"]
    response = client.get(url("person", wang))
    assert response.status_code == 200 and "wallet" not in response.context
    assert client.get(url("wallet-transfers", wang)).status_code == 403
    assert client.get(url("wallet-open", wang)).status_code == 403


# ---------------------------------------------------------------------------------------------
# opening and closing at the counter (R18, R20, R23)


def test_a_clerk_opens_a_wallet_with_the_documents_seen(client, clerk, demo):
    wang = demo["王建国"]
    page = text(client.get(url("wallet-open", wang)))
    assert "江苏省南京市（320100）" in page and wang.masked_phone in page
    assert "居民身份证" in page and "社会保障卡" in page
    assert f"已与参保人核对手机号码为{wang.masked_phone}" in page

    response = client.post(url("wallet-open", wang), OPEN_POST, follow=True)
    assert response.redirect_chain == [(url("person", wang), 302)]
    page = text(response)
    assert "已为王建国开通医保钱包。" in page and "已开通" in page
    assert url("wallet-close", wang) in page

    wallet = Wallet.objects.get(person=wang)
    assert wallet.is_open
    (entry,) = wallet_audit(wang)
    assert (entry.action, entry.channel, entry.actor) == ("wallet.open", COUNTER, clerk)
    assert entry.object_id == str(wallet.public_id)
    assert entry.before is None
    assert entry.after["status"] == "open" and entry.after["documents_seen"] == ["id_card"]


def test_a_clerk_closes_an_empty_wallet_and_it_can_be_reopened(client, clerk, demo):
    wang = demo["王建国"]
    open_online(wang)
    page = text(client.get(url("wallet-close", wang)))
    assert "关闭后会怎样" in page
    response = client.post(url("wallet-close", wang), CLOSE_POST, follow=True)
    assert "已为王建国关闭医保钱包。" in text(response)
    assert Wallet.objects.get(person=wang).status == Wallet.Status.CLOSED
    entry = wallet_audit(wang)[-1]
    assert (entry.action, entry.channel, entry.actor) == ("wallet.close", COUNTER, clerk)
    assert entry.before["status"] == "open"
    assert entry.after["status"] == "closed" and entry.after["documents_seen"] == ["ss_card"]

    client.post(url("wallet-open", wang), {**OPEN_POST, "documents_seen": ["id_card", "ss_card"]})
    assert Wallet.objects.get(person=wang).is_open
    entry = wallet_audit(wang)[-1]
    assert entry.after["documents_seen"] == ["id_card", "ss_card"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**OPEN_POST, "documents_seen": []}, "documents_seen", errors.WALLET_DOCS_MISSING),
        ({**OPEN_POST, "documents_seen": ["passport"]}, "documents_seen", None),
        ({**OPEN_POST, "confirm_place": ""}, "confirm_place", errors.WALLET_PLACE_NOT_CONFIRMED),
        ({**OPEN_POST, "confirm_phone": ""}, "confirm_phone", errors.WALLET_PHONE_NOT_CONFIRMED),
    ],
)
def test_opening_without_what_the_counter_must_check_is_refused(
    client, clerk, demo, data, field, message
):  # R18
    wang = demo["王建国"]
    response = client.post(url("wallet-open", wang), data)
    assert response.status_code == 200
    form_errors = response.context["form"].errors
    assert field in form_errors
    if message is not None:
        assert form_errors[field] == [str(message)]
    assert not Wallet.objects.filter(person=wang).exists()
    assert wallet_audit(wang) == []


def test_closing_without_a_document_is_refused(client, clerk, demo):  # R18
    wang = demo["王建国"]
    open_online(wang)
    response = client.post(url("wallet-close", wang), {"documents_seen": []})
    assert response.context["form"].errors["documents_seen"] == [str(errors.WALLET_DOCS_MISSING)]
    assert Wallet.objects.get(person=wang).is_open
    assert [e.action for e in wallet_audit(wang)] == ["wallet.open"]


def test_the_services_refusals_show_on_the_open_page_and_change_nothing(client, clerk, demo):
    """R23: a person not in normal status (孙强, transferred out), a region without wallets, an
    open wallet: the page says so in the clerk's words instead of the form, and a POST anyway
    opens nothing."""
    sun, wang = demo["孙强"], demo["王建国"]
    cases = [(sun, "wallet_person_not_normal")]
    open_online(wang)
    cases.append((wang, "wallet_already_open"))
    for person, code in cases:
        response = client.get(url("wallet-open", person))
        page = text(response)
        assert response.context["refusal"].code == code
        assert str(staff_views.COUNTER_REFUSALS[code]) in page
        assert "确认开通钱包" not in page  # no form to submit
        before = list(AuditEntry.objects.values_list("pk", flat=True))
        response = client.post(url("wallet-open", person), OPEN_POST)
        assert response.status_code == 200
        assert list(AuditEntry.objects.values_list("pk", flat=True)) == before
    assert not Wallet.objects.filter(person=sun).exists()

    RegionPolicy.objects.filter(code="320100").update(wallet_enabled=False)
    li = demo["李秀英"]
    page = text(client.get(url("person", li)))
    assert str(staff_views.COUNTER_REFUSALS["wallet_not_offered"]) in page
    assert url("wallet-open", li) not in page
    client.post(url("wallet-open", li), OPEN_POST)
    assert not Wallet.objects.filter(person=li).exists()


def test_a_refusal_met_on_submit_is_shown_above_the_form(client, clerk, demo):
    """The page was fine when shown; the person's status changed before the clerk submitted."""
    wang = demo["王建国"]
    client.get(url("wallet-open", wang))
    InsuredPerson.objects.filter(pk=wang.pk).update(status=InsuredPerson.Status.SUSPENDED)
    response = client.post(url("wallet-open", wang), OPEN_POST)
    # the page itself now shows the refusal instead of the form: not repeated above it
    assert response.context["refusal"].code == "wallet_person_not_normal"
    assert response.context["form"].non_field_errors() == []
    assert not Wallet.objects.filter(person=wang).exists()


def test_closing_is_refused_while_the_wallet_holds_money_or_a_transfer_is_pending(
    client, clerk, demo
):  # R23
    wang, li = demo["王建国"], demo["李秀英"]
    open_online(li)
    pending = send(wang, li, key="a")
    response = client.get(url("wallet-close", li))
    assert response.context["refusal"].code == "wallet_transfer_pending"
    assert str(staff_views.COUNTER_REFUSALS["wallet_transfer_pending"]) in text(response)
    client.post(url("wallet-close", li), CLOSE_POST)
    assert Wallet.objects.get(person=li).is_open

    accept(pending)
    response = client.get(url("wallet-close", li))
    assert response.context["refusal"].code == "wallet_not_empty"
    client.post(url("wallet-close", li), CLOSE_POST)
    assert Wallet.objects.get(person=li).is_open
    assert [e.action for e in wallet_audit(li)] == ["wallet.open"]

    page = text(client.get(url("wallet-close", wang)))  # he never opened one
    assert str(staff_views.COUNTER_REFUSALS["wallet_not_open"]) in page


# ---------------------------------------------------------------------------------------------
# region scope and permissions


def test_a_clerk_of_another_region_neither_sees_nor_changes_the_wallet(client, demo):
    """xj_clerk (五家渠) and 王建国 (南京): every wallet page is a 404 and nothing changes."""
    wang = demo["王建国"]
    open_online(wang)
    client.force_login(demo.staff["xj_clerk"])
    for name in ("person", "wallet-transfers", "wallet-open", "wallet-close"):
        assert client.get(url(name, wang)).status_code == 404, name
    assert client.post(url("wallet-close", wang), CLOSE_POST).status_code == 404
    assert Wallet.objects.get(person=wang).is_open
    assert [e.action for e in wallet_audit(wang)] == ["wallet.open"]


def test_the_service_refuses_a_counter_actor_outside_the_region_or_without_permission(demo):
    """Behind the pages, the service itself (R18): staff of the person's region, with the
    wallet permission and a card seen."""
    wang = demo["王建国"]

    def counter_open(actor, documents=("id_card",)):
        with pytest.raises(ValidationError) as info:
            services.wallet_open(
                person=wang,
                actor=actor,
                channel=COUNTER,
                confirm_place=True,
                confirm_phone=True,
                documents_seen=documents,
            )
        return info.value.code

    admin_only = User.objects.create_user(username="js_admin", password="x", is_staff=True)
    admin_only.groups.set([Group.objects.get(name=ADMINISTRATOR)])
    admin_only.regions.set(RegionPolicy.objects.filter(code="320100"))
    assert counter_open(demo.staff["xj_clerk"]) == "wallet_out_of_region"
    assert counter_open(admin_only) == "wallet_counter_not_allowed"
    assert counter_open(wang.user) == "wallet_counter_not_allowed"
    assert counter_open(demo.staff["js_clerk"], ()) == "wallet_docs_missing"
    assert counter_open(demo.staff["js_clerk"], ("id_card", "passport")) == "wallet_docs_invalid"
    assert not Wallet.objects.filter(person=wang).exists()


def test_a_supervisor_acts_too_and_an_administrator_only_reads(client, demo):
    wang = demo["王建国"]
    client.force_login(demo.staff["js_super"])
    client.post(url("wallet-open", wang), OPEN_POST)
    assert wallet_audit(wang)[-1].actor == demo.staff["js_super"]
    admin_only = User.objects.create_user(username="js_admin", password="x", is_staff=True)
    admin_only.groups.set([Group.objects.get(name=ADMINISTRATOR)])
    admin_only.regions.set(RegionPolicy.objects.filter(code="320100"))
    client.force_login(admin_only)
    page = text(client.get(url("person", wang)))
    assert "已开通" in page and url("wallet-close", wang) not in page
    assert client.get(url("wallet-transfers", wang)).status_code == 200
    assert client.post(url("wallet-close", wang), CLOSE_POST).status_code == 403
    assert Wallet.objects.get(person=wang).is_open


def test_the_counter_pages_run_a_bounded_number_of_queries(
    client, clerk, demo, django_assert_max_num_queries
):
    wang = demo["王建国"]
    client.get(url("wallet-open", wang))  # warm
    with django_assert_max_num_queries(COUNTER_PAGE_QUERIES):
        client.get(url("wallet-open", wang))
    with django_assert_max_num_queries(COUNTER_POST_QUERIES):
        client.post(url("wallet-open", wang), OPEN_POST)
    client.get(url("person", wang))  # shows (and so clears) the success message
    with django_assert_max_num_queries(COUNTER_PAGE_QUERIES + 1):  # + the pending check
        client.get(url("wallet-close", wang))
    with django_assert_max_num_queries(COUNTER_POST_QUERIES):
        client.post(url("wallet-close", wang), CLOSE_POST)
    assert [e.action for e in wallet_audit(wang)] == ["wallet.open", "wallet.close"]


def test_the_counter_words_cover_codes_the_services_raise():
    codes = {code for _name, code, _where in _raised("wallet")}
    assert set(staff_views.COUNTER_REFUSALS) <= codes
    assert {"wallet_docs_missing", "wallet_docs_invalid"} <= codes
