"""Staff in /admin/ for money: read-only ledger, settlements, refunds and premiums; masked numbers
and constant queries; the staff statement (the citizen page's entries); institutions created and
re-keyed through the services with the secret shown once; the designated flag and 异地就医备案 (R19)
through audited services (R20); nothing deleted anywhere."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, User
from payments.models import (
    CreditImport,
    Institution,
    LedgerAccount,
    LedgerTransaction,
    OutOfRegionFiling,
    PremiumPayment,
    Refund,
    Settlement,
)
from payments.services import credits_import_csv, filings
from tests.admin_search import admin_search

from .statement_builders import credit, premium, refund, settle

ADMIN = AuditEntry.Channel.ADMIN
CHANGELISTS = {
    "ledgeraccount": "/admin/payments/ledgeraccount/",
    "ledgertransaction": "/admin/payments/ledgertransaction/",
    "settlement": "/admin/payments/settlement/",
    "refund": "/admin/payments/refund/",
    "premiumpayment": "/admin/payments/premiumpayment/",
    "creditimport": "/admin/payments/creditimport/",
    "institution": "/admin/payments/institution/",
    "outofregionfiling": "/admin/payments/outofregionfiling/",
}
READ_ONLY = ["ledgeraccount", "ledgertransaction", "settlement", "refund", "premiumpayment"]


@pytest.fixture
def staff_admin(demo):
    return User.objects.get(username="admin")


@pytest.fixture
def admin_page(client, staff_admin):
    client.force_login(staff_admin)
    return client


@pytest.fixture
def moves(demo, institutions, staff_admin):
    """A settlement of 王建国's own, one for 王德胜 through mutual aid with a partial refund, a
    premium, a credit file and an out-of-region filing: one row in every changelist."""
    hosp, pharm = institutions["JS-HOSP-001"], institutions["JS-PHARM-001"]
    own = settle(hosp, demo["王建国"], "88.00")
    father = settle(pharm, demo["王德胜"], "120.50", category="pharmacy_drug")
    refund(father, "20.50")
    premium(demo["王建国"], demo["王德胜"])
    credits_import_csv(
        data="id_number,name,amount,month\n32010219750312123X,王建国,100.00,2026-10\n".encode(),
        file_name="2026-10.csv",
        actor=staff_admin,
        background=False,  # posted before returning, as the command does
    )
    filings.out_of_region_filing_create(
        person=demo["王德胜"],
        care_region=RegionPolicy.objects.get(code="659004"),
        valid_from=dt.date(2026, 1, 1),
        actor=staff_admin,
    )
    return {"own": own, "father": father}


def assert_no_full_numbers(text: str) -> None:
    for number in InsuredPerson.objects.values_list("id_number", flat=True):
        assert number not in text


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


def _text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def _change_url(obj) -> str:
    return reverse(f"admin:payments_{obj._meta.model_name}_change", args=[obj.pk])


# ---------------------------------------------------------------------------------------------
# lists and detail pages


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_render_with_masked_numbers_only(
    admin_page, moves, model, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):
        response = admin_page.get(CHANGELISTS[model])
    assert response.status_code == 200
    text = response.content.decode()
    if model in {"ledgeraccount", "settlement", "premiumpayment", "outofregionfiling"}:
        assert "3201**********" in text
    assert_no_full_numbers(text)


def test_changelist_queries_do_not_grow_with_rows(admin_page, demo, institutions, moves):
    before = {model: count_queries(admin_page, url) for model, url in CHANGELISTS.items()}
    hosp = institutions["JS-HOSP-001"]
    for name in ["李秀英", "张伟"]:
        refund(settle(hosp, demo[name], "10.00"), "1.00")
        credit(demo[name], "5.00")
    settle(hosp, demo["王小明"], "10.00")
    premium(demo["王建国"], demo["王小明"])
    credits_import_csv(
        data="id_number,name,amount,month\n320104197708252463,李秀英,1.00,2026-10\n".encode(),
        file_name="more.csv",
        actor=None,
        background=False,
    )
    filings.out_of_region_filing_create(
        person=demo["王小明"],
        care_region=RegionPolicy.objects.get(code="330100"),
        valid_from=dt.date(2026, 1, 1),
        actor=None,
    )
    after = {model: count_queries(admin_page, url) for model, url in CHANGELISTS.items()}
    assert after == before


def test_accounts_are_found_by_exact_number_or_name(admin_page, moves):
    text = _text(admin_search(admin_page, CHANGELISTS["ledgeraccount"], "32010219750312123X"))
    assert "王建国" in text and "李秀英" not in text
    text = _text(admin_search(admin_page, CHANGELISTS["ledgeraccount"], "李秀英"))
    assert "李秀英" in text and "王建国" not in text


def test_account_page_shows_balance_and_newest_legs_with_whom_for(
    admin_page, demo, moves, django_assert_max_num_queries
):
    account = LedgerAccount.objects.get(person=demo["王建国"])
    with django_assert_max_num_queries(12):
        response = admin_page.get(_change_url(account))
    text = _text(response)
    assert response.status_code == 200
    assert "4512.00" in text  # 5000 − 88 − 120.50 + 20.50 − 400 + 100
    assert "王德胜（3201**********1113）" in text
    statement = reverse("admin:payments_ledgeraccount_statement", args=[account.pk])
    assert f'href="{statement}"' in response.content.decode()
    # newest first: the October credit comes before the opening balance
    assert text.index("2026-10 单位缴费划入") < text.index("演示数据：期初余额")
    assert 'name="_save"' not in response.content.decode()
    assert_no_full_numbers(response.content.decode())


def test_account_page_lists_a_limited_number_of_legs(admin_page, demo):
    for i in range(25):
        credit(demo["张伟"], f"{i + 1}.00")
    account = LedgerAccount.objects.get(person=demo["张伟"])
    text = _text(admin_page.get(_change_url(account)))
    assert "+25.00" in text and "+6.00" in text
    assert "+5.00 " not in text and "+800.00" not in text  # beyond the newest 20


@pytest.mark.parametrize(
    ("model", "get", "words"),
    [
        (
            "settlement",
            lambda m: m["father"],
            ["南京市仁和大药房", "王建国（3201**********123X）", "家庭共济", "20.50"],
        ),
        ("refund", lambda m: Refund.objects.get(), ["20.50", "王建国（3201**********123X）"]),
        ("premiumpayment", lambda m: PremiumPayment.objects.get(), ["400.00", "王建国"]),
        ("ledgertransaction", lambda m: LedgerTransaction.objects.get(kind="premium"), ["400"]),
        ("creditimport", lambda m: CreditImport.objects.get(), ["2026-10.csv", "100.00"]),
        ("outofregionfiling", lambda m: OutOfRegionFiling.objects.get(), ["五家渠市"]),
    ],
)
def test_change_pages_render_in_bounded_queries(
    admin_page, moves, model, get, words, django_assert_max_num_queries
):
    obj = get(moves)
    with django_assert_max_num_queries(14):
        response = admin_page.get(_change_url(obj))
    assert response.status_code == 200
    text = _text(response)
    for word in words:
        assert word in text
    assert_no_full_numbers(response.content.decode())


# ---------------------------------------------------------------------------------------------
# read-only money, nothing deleted anywhere


@pytest.mark.parametrize("model", READ_ONLY)
def test_money_records_cannot_be_added_or_changed(admin_page, moves, model):
    row = {
        "ledgeraccount": LedgerAccount.objects.filter(person__isnull=False).first,
        "ledgertransaction": LedgerTransaction.objects.first,
        "settlement": Settlement.objects.first,
        "refund": Refund.objects.first,
        "premiumpayment": PremiumPayment.objects.first,
    }[model]()
    base = CHANGELISTS[model]
    assert f'href="{base}add/"' not in admin_page.get(base).content.decode()
    assert admin_page.get(f"{base}add/").status_code == 403
    page = admin_page.get(f"{base}{row.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_page.post(f"{base}{row.pk}/change/", {}).status_code == 403


@pytest.mark.parametrize("model", CHANGELISTS)
def test_nothing_can_be_deleted(admin_page, moves, model):
    row = {
        "ledgeraccount": LedgerAccount.objects.first,
        "ledgertransaction": LedgerTransaction.objects.first,
        "settlement": Settlement.objects.first,
        "refund": Refund.objects.first,
        "premiumpayment": PremiumPayment.objects.first,
        "creditimport": CreditImport.objects.first,
        "institution": Institution.objects.first,
        "outofregionfiling": OutOfRegionFiling.objects.first,
    }[model]()
    base = CHANGELISTS[model]
    assert admin_page.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = admin_page.get(base).content.decode()
    assert 'value="delete_selected"' not in changelist
    admin_page.post(base, {"action": "delete_selected", "_selected_action": [row.pk]})
    assert type(row).objects.filter(pk=row.pk).exists()


def test_clerks_view_money_but_do_not_import_or_add_institutions(client, moves):
    client.force_login(User.objects.get(username="js_clerk"))
    for url in CHANGELISTS.values():
        assert client.get(url).status_code == 200
    assert client.get(reverse("admin:payments_creditimport_upload")).status_code == 403
    assert client.get(f"{CHANGELISTS['institution']}add/").status_code == 403
    assert client.get(f"{CHANGELISTS['outofregionfiling']}add/").status_code == 200
    client.force_login(User.objects.get(username="js_super"))
    assert client.get(reverse("admin:payments_creditimport_upload")).status_code == 200
    assert client.get(f"{CHANGELISTS['institution']}add/").status_code == 200


# ---------------------------------------------------------------------------------------------
# the staff statement: the same entries as the citizen's page


def _statement_rows(response) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S)
    return [
        re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def test_staff_statement_lists_the_citizens_entries(
    admin_page, client, demo, moves, django_assert_max_num_queries
):
    account = LedgerAccount.objects.get(person=demo["王建国"])
    url = reverse("admin:payments_ledgeraccount_statement", args=[account.pk])
    with django_assert_max_num_queries(12):
        staff_page = admin_page.get(url, {"kind": "settlement"})
    assert staff_page.status_code == 200
    staff_rows = _statement_rows(staff_page)
    assert len(staff_rows) == 2
    assert "王德胜（3201**********1113）" in staff_rows[0] and "−120.50" in staff_rows[0]
    assert "本人" in staff_rows[1] and "−88.00" in staff_rows[1]
    # The CSV is the citizen's, byte for byte.
    staff_csv = admin_page.get(
        reverse("admin:payments_ledgeraccount_statement_csv", args=[account.pk])
    ).content
    client.force_login(demo["王建国"].user)
    citizen_csv = client.get(reverse("payments:statement-csv")).content
    assert staff_csv == citizen_csv
    assert citizen_csv.decode("utf-8-sig").count("\n") == 7  # header + 6 entries


def test_staff_statement_is_paginated_and_filtered(admin_page, demo):
    for i in range(25):
        credit(demo["张伟"], f"{i + 1}.00")
    account = LedgerAccount.objects.get(person=demo["张伟"])
    url = reverse("admin:payments_ledgeraccount_statement", args=[account.pk])
    first = admin_page.get(url)
    assert len(_statement_rows(first)) == 20
    assert "page=2" in first.content.decode()
    assert len(_statement_rows(admin_page.get(url, {"page": 2}))) == 6
    bad = admin_page.get(url, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert "查询条件有误" in _text(bad)


def test_staff_statement_needs_the_view_permission(client, demo, moves):
    account = LedgerAccount.objects.get(person=demo["王建国"])
    client.force_login(User.objects.create_user(username="no_perms", is_staff=True))
    url = reverse("admin:payments_ledgeraccount_statement", args=[account.pk])
    assert client.get(url).status_code == 403
    client.force_login(User.objects.get(username="js_clerk"))
    assert client.get(url).status_code == 200
    assert (
        client.get(reverse("admin:payments_ledgeraccount_statement", args=[999999])).status_code
        == 404
    )


# ---------------------------------------------------------------------------------------------
# institutions: the secret once; designation audited


def institution_form(**changes):
    return {
        "code": "JS-PHARM-002",
        "name": "南京市康民大药房",
        "kind": Institution.Kind.PHARMACY,
        "region": str(RegionPolicy.objects.get(code="320100").pk),
        "designated": "on",
        **changes,
    }


def test_institution_created_in_admin_shows_its_secret_once(admin_page, demo, staff_admin):
    response = admin_page.post(f"{CHANGELISTS['institution']}add/", institution_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    institution = Institution.objects.get(code="JS-PHARM-002")
    secret = institution.api_secret
    assert len(secret) >= 32
    shown = admin_page.get(response["Location"])
    assert shown.content.decode().count(secret) == 1  # in the message, once
    assert "仅显示这一次" in _text(shown)
    # never again: not on the list, not on the change page
    assert secret not in admin_page.get(CHANGELISTS["institution"]).content.decode()
    change = admin_page.get(_change_url(institution)).content.decode()
    assert secret not in change
    assert 'name="api_secret"' not in change
    entry = AuditEntry.objects.get(
        action="institution.create", object_id=str(institution.public_id)
    )
    assert (entry.actor, entry.channel) == (staff_admin, ADMIN)
    assert secret not in str(entry.after)


def test_secret_rotation_asks_first_then_shows_the_new_secret_once(
    admin_page, institutions, staff_admin
):
    hosp = institutions["JS-HOSP-001"]
    old = hosp.api_secret
    action = {"action": "rotate_secret", "_selected_action": [hosp.pk]}
    confirm = admin_page.post(CHANGELISTS["institution"], action)
    assert confirm.status_code == 200
    assert "旧密钥将立即失效" in _text(confirm)
    hosp.refresh_from_db()
    assert hosp.api_secret == old  # nothing yet
    response = admin_page.post(CHANGELISTS["institution"], {**action, "confirm": "yes"})
    assert response.status_code == 302
    hosp.refresh_from_db()
    assert hosp.api_secret != old
    shown = admin_page.get(response["Location"]).content.decode()
    assert shown.count(hosp.api_secret) == 1  # in the message
    assert hosp.api_secret not in admin_page.get(_change_url(hosp)).content.decode()
    assert hosp.api_secret not in admin_page.get(response["Location"]).content.decode()
    entry = AuditEntry.objects.get(action="institution.secret_rotate")
    assert (entry.actor, entry.object_id) == (staff_admin, str(hosp.public_id))


def test_designation_change_is_audited_and_nothing_else_changes(
    admin_page, institutions, staff_admin
):
    hosp = institutions["JS-HOSP-001"]
    secret = hosp.api_secret
    response = admin_page.post(
        _change_url(hosp), {"name": "改名", "code": "X", "api_secret": "stolen"}
    )  # designated unticked
    assert response.status_code == 302, response.content.decode()[:2000]
    hosp.refresh_from_db()
    assert hosp.designated is False
    assert (hosp.name, hosp.code, hosp.api_secret) == ("南京市第一医院", "JS-HOSP-001", secret)
    entry = AuditEntry.objects.get(action="institution.designation_set")
    assert (entry.actor, entry.channel) == (staff_admin, ADMIN)
    assert (entry.before, entry.after) == ({"designated": True}, {"designated": False})


def test_institution_search(admin_page, institutions):
    text = _text(admin_search(admin_page, CHANGELISTS["institution"], "药房"))
    assert "南京市仁和大药房" in text and "南京市第一医院" not in text


# ---------------------------------------------------------------------------------------------
# 异地就医备案 (R19)


def filing_form(person, region_code, **changes):
    return {
        "person": str(person.pk),
        "care_region": str(RegionPolicy.objects.get(code=region_code).pk),
        "valid_from": "2026-12-01",
        "valid_to": "",
        **changes,
    }


def test_filing_added_in_admin_goes_through_the_audited_service(admin_page, demo, staff_admin):
    person = demo["王德胜"]
    response = admin_page.post(
        f"{CHANGELISTS['outofregionfiling']}add/", filing_form(person, "659004")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    filing = OutOfRegionFiling.objects.get()
    assert (filing.person, filing.care_region.code) == (person, "659004")
    assert (filing.valid_from, filing.valid_to) == (dt.date(2026, 12, 1), None)
    entry = AuditEntry.objects.get(action="filing.create")
    assert (entry.actor, entry.channel, entry.person) == (staff_admin, ADMIN, person)


@pytest.mark.parametrize(
    ("region", "changes", "message"),
    [
        ("320100", {}, filings.FILING_SAME_REGION),
        ("659004", {"valid_to": "2026-11-30"}, filings.FILING_END_BEFORE_START),
        ("659004", {"valid_from": "2027-03-01"}, filings.FILING_OVERLAPS),
    ],
)
def test_bad_filings_are_refused_with_the_reason(admin_page, demo, region, changes, message):
    filings.out_of_region_filing_create(
        person=demo["王德胜"],
        care_region=RegionPolicy.objects.get(code="659004"),
        valid_from=dt.date(2027, 1, 1),
        actor=None,
    )
    response = admin_page.post(
        f"{CHANGELISTS['outofregionfiling']}add/", filing_form(demo["王德胜"], region, **changes)
    )
    assert response.status_code == 200
    assert str(message) in _text(response)
    assert OutOfRegionFiling.objects.count() == 1


def test_filing_for_a_person_not_in_normal_status_is_refused(admin_page, demo):
    response = admin_page.post(
        f"{CHANGELISTS['outofregionfiling']}add/", filing_form(demo["孙强"], "659004")
    )
    assert str(filings.FILING_PERSON_NOT_NORMAL) in _text(response)
    assert not OutOfRegionFiling.objects.exists()


def test_filing_is_ended_in_admin_and_never_extended(admin_page, demo, staff_admin):
    filing = filings.out_of_region_filing_create(
        person=demo["王德胜"],
        care_region=RegionPolicy.objects.get(code="659004"),
        valid_from=dt.date(2026, 1, 1),
        actor=None,
    )
    url = _change_url(filing)
    page = admin_page.get(url).content.decode()
    assert 'name="valid_to"' in page and 'name="valid_from"' not in page
    assert admin_page.post(url, {"valid_to": ""}).status_code == 200  # the end date is required
    response = admin_page.post(url, {"valid_to": "2026-06-30"})
    assert response.status_code == 302, response.content.decode()[:2000]
    filing.refresh_from_db()
    assert filing.valid_to == dt.date(2026, 6, 30)
    entry = AuditEntry.objects.get(action="filing.end")
    assert entry.actor == staff_admin
    assert (entry.before["valid_to"], entry.after["valid_to"]) == (None, "2026-06-30")
    refused = admin_page.post(url, {"valid_to": "2026-12-31"})
    assert str(filings.FILING_END_LATER) in _text(refused)
    filing.refresh_from_db()
    assert filing.valid_to == dt.date(2026, 6, 30)


def test_a_ledger_key_written_with_an_identity_number_is_shown_masked(admin_page, demo):
    """Demo opening balances (and credit files imported before issue 13) keyed their ledger
    transactions by the full identity number; the change page masks it."""
    from payments.models import LedgerTransaction

    entry = LedgerTransaction.objects.get(idempotency_key="demo-opening-balance:32010219750312123X")
    response = admin_page.get(_change_url(entry))
    assert response.status_code == 200
    assert_no_full_numbers(response.content.decode())
    assert "demo-opening-balance:3201**********123X" in _text(response)


@pytest.mark.parametrize(
    "dates",
    [{"valid_from": "0001-01-01"}, {"valid_to": "9999-12-31"}, {"valid_from": "2100-01-01"}],
)
def test_admin_dates_outside_what_pages_handle_are_refused(admin_page, demo, dates):
    """Issue 13 point 3: every date a form accepts is bounded, the admin's too."""
    before = OutOfRegionFiling.objects.count()
    response = admin_page.post(
        f"{CHANGELISTS['outofregionfiling']}add/", filing_form(demo["王德胜"], "659004", **dates)
    )
    assert response.status_code == 200
    assert "日期须在1900-01-01至2099-12-31之间" in _text(response)
    assert OutOfRegionFiling.objects.count() == before
