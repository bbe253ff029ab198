"""Statements (issue 4 point 6): 我的个人账户 and 为我支付的记录.

Walks the pages with Django's test client as the demo citizens would, on PostgreSQL. Money moves
through the real services (settlement_create, settlement_refund, account_credit) at the real
"now", because the pages read the clock. A citizen only ever sees their own account; the pages
have no object ids, and a ward's page (R22) answers 404 to anyone who does not act for the ward."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import InsuredPerson, User
from family.forms.member import DATES_REVERSED
from payments import selectors
from payments.models import Institution, LedgerAccount, LedgerLeg
from payments.views.statements import CSV_HEADER, ENTRIES_PER_PAGE, FILTER_INVALID
from tests.clock import SHANGHAI

from .statement_builders import credit, premium, refund, settle

STATEMENT = reverse("payments:statement")
CSV_URL = reverse("payments:statement-csv")
PAID_FOR_ME = reverse("payments:paid-for-me")


def _text(response) -> str:
    """The page's visible words, tags removed, whitespace squeezed."""
    words = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r"\s+", " ", words)


def _rows(response) -> list[str]:
    """The text of each body row of the page's table."""
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S)
    if body is None:
        return []
    return [
        re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def _csv(response) -> list[list[str]]:
    raw = response.content
    assert raw.startswith("\ufeff".encode()), "UTF-8 with BOM, so that Excel opens it"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def assert_no_full_numbers(text: str) -> None:
    for number in InsuredPerson.objects.values_list("id_number", flat=True):
        assert number not in text


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


@pytest.fixture
def login(client):
    def as_(person: InsuredPerson):
        client.force_login(person.user)
        return client

    return as_


@pytest.fixture
def moves(demo, institutions):
    """王建国's account pays: his own outpatient visit, 王德胜's (mutual aid, R9) with a partial
    refund (R17), and 王德胜's 2027 premium (R16)."""
    hosp, pharm = institutions["JS-HOSP-001"], institutions["JS-PHARM-001"]
    own = settle(hosp, demo["王建国"], "88.00")
    father = settle(pharm, demo["王德胜"], "120.50", category="pharmacy_drug")
    refund(father, "20.50")
    paid = premium(demo["王建国"], demo["王德胜"])
    return {"own": own, "father": father, "premium": paid}


# ---------------------------------------------------------------------------------------------
# 我的个人账户


def test_holder_sees_balance_and_entries_newest_first(login, demo, moves):
    response = login(demo["王建国"]).get(STATEMENT)
    assert response.status_code == 200
    text = _text(response)
    # 5000.00 − 88.00 − 120.50 + 20.50 − 400.00
    assert "4412.00" in text
    rows = _rows(response)
    assert len(rows) == 5
    premium_row, refund_row, father_row, own_row, opening_row = rows
    assert "个账代缴保费" in premium_row and "−400.00" in premium_row
    assert "王德胜（3201**********1113）" in premium_row
    assert "4412.00" in premium_row  # the balance after this entry
    assert "结算退款" in refund_row and "+20.50" in refund_row and "王德胜" in refund_row
    assert "就医购药结算" in father_row and "−120.50" in father_row
    assert "南京市仁和大药房" in father_row and "王德胜（3201**********1113）" in father_row
    assert "4791.50" in father_row
    assert "本人" in own_row and "−88.00" in own_row and "南京市第一医院" in own_row
    assert "个人账户划入" in opening_row and "+5000.00" in opening_row
    assert "2024-12-01" in opening_row
    assert_no_full_numbers(response.content.decode())


def test_entries_are_read_in_a_constant_number_of_queries(
    login, demo, institutions, moves, django_assert_max_num_queries
):
    client = login(demo["王建国"])
    before = count_queries(client, STATEMENT)
    # More of every kind: the lookups of whom each was for are one query per kind, not per row.
    hosp = institutions["JS-HOSP-001"]
    for _ in range(3):
        settle(hosp, demo["王小明"], "10.00")
        refund(settle(hosp, demo["王建国"], "10.00"), "5.00")
        credit(demo["王建国"], "1.00")
    premium(demo["王建国"], demo["王小明"])
    assert count_queries(client, STATEMENT) == before
    # session, user, person, account, count, legs, settlements, refunds, premiums, inbox badge
    with django_assert_max_num_queries(10):
        client.get(STATEMENT)


def test_filter_by_kind(login, demo, moves):
    response = login(demo["王建国"]).get(STATEMENT, {"kind": "settlement"})
    rows = _rows(response)
    assert len(rows) == 2
    assert all("就医购药结算" in row for row in rows)
    assert "清除查询条件" in _text(response)


def test_filter_by_dates(login, demo, institutions):
    hosp = institutions["JS-HOSP-001"]
    settle(hosp, demo["王建国"], "30.00", at=dt.datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI))
    # Late evening in Shanghai is still that day (the filter uses local dates).
    settle(hosp, demo["王建国"], "40.00", at=dt.datetime(2026, 3, 31, 23, 30, tzinfo=SHANGHAI))
    settle(hosp, demo["王建国"], "50.00", at=dt.datetime(2026, 4, 1, 0, 30, tzinfo=SHANGHAI))
    client = login(demo["王建国"])
    rows = _rows(client.get(STATEMENT, {"date_from": "2026-03-01", "date_to": "2026-03-31"}))
    assert [re.search(r"−(\d+\.\d\d)", row).group(1) for row in rows] == ["40.00", "30.00"]
    rows = _rows(client.get(STATEMENT, {"date_to": "2025-01-01"}))
    assert len(rows) == 1 and "演示数据：期初余额" in rows[0]
    rows = _rows(client.get(STATEMENT, {"date_from": "2026-04-01"}))
    assert len(rows) == 1 and "−50.00" in rows[0]


def test_reversed_dates_list_nothing_and_say_why(login, demo, moves):
    response = login(demo["王建国"]).get(
        STATEMENT, {"date_from": "2026-05-01", "date_to": "2026-04-01"}
    )
    text = _text(response)
    assert str(FILTER_INVALID) in text
    assert str(DATES_REVERSED) in text
    assert _rows(response) == []


def test_entries_are_paginated_and_page_links_keep_the_filter(login, demo):
    for i in range(ENTRIES_PER_PAGE + 4):
        credit(demo["张伟"], f"{i + 1}.00")
    client = login(demo["张伟"])
    first = client.get(STATEMENT, {"kind": "credit"})
    assert len(_rows(first)) == ENTRIES_PER_PAGE
    assert "共 25 条收支明细" in _text(first)
    assert "+24.00" in _rows(first)[0]  # newest first
    assert "?kind=credit&amp;page=2" in first.content.decode()
    second = client.get(STATEMENT, {"kind": "credit", "page": 2})
    rows = _rows(second)
    assert len(rows) == 5
    assert "+800.00" in rows[-1]  # the demo opening balance, oldest


def test_csv_export_has_the_filtered_entries(login, demo, moves):
    client = login(demo["王建国"])
    page = client.get(STATEMENT, {"kind": "settlement", "page": 1})
    assert f'href="{CSV_URL}?kind=settlement"' in page.content.decode()  # without the page
    response = client.get(CSV_URL, {"kind": "settlement"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = _csv(response)
    assert header == [str(title) for title in CSV_HEADER]
    assert header[0] == "记账时间"
    assert len(rows) == 2
    father, own = rows
    assert father[1] == "就医购药结算"
    assert father[3] == "-120.50"
    assert father[4] == "4791.50"
    assert father[5] == "王德胜（3201**********1113）"
    assert own[3] == "-88.00"
    assert own[5] == "本人"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", own[0])
    assert_no_full_numbers(response.content.decode("utf-8-sig"))


def test_csv_export_has_every_entry_not_one_page(login, demo):
    for i in range(ENTRIES_PER_PAGE + 4):
        credit(demo["张伟"], f"{i + 1}.00")
    _header, *rows = _csv(login(demo["张伟"]).get(CSV_URL))
    assert len(rows) == ENTRIES_PER_PAGE + 5
    assert rows[0][3] == "24.00"
    assert rows[-1][3] == "800.00"
    assert rows[-1][4] == "800.00"
    # The balance after the newest entry is the account's balance.
    balance = LedgerAccount.objects.get(person=demo["张伟"]).balance
    assert Decimal(rows[0][4]) == balance


def test_csv_cells_cannot_start_a_formula(login, demo, institutions):
    Institution.objects.filter(code="JS-HOSP-001").update(name="=HYPERLINK(1)")
    institutions["JS-HOSP-001"].name = "=HYPERLINK(1)"
    settle(institutions["JS-HOSP-001"], demo["王建国"], "1.00")
    _header, newest, *_rest = _csv(login(demo["王建国"]).get(CSV_URL))
    assert newest[2].startswith("'=HYPERLINK(1)")


def test_csv_with_a_bad_filter_goes_back_to_the_page(login, demo):
    response = login(demo["王建国"]).get(CSV_URL, {"date_from": "not a date"})
    assert response.status_code == 302
    assert response["Location"].startswith(STATEMENT + "?")


def test_resident_person_has_no_account(login, demo):
    client = login(demo["王丽"])
    response = client.get(STATEMENT)
    assert response.status_code == 200
    assert "您参加的是城乡居民医保，没有职工医保个人账户" in _text(response)
    assert "导出CSV" not in _text(response)
    assert client.get(CSV_URL).status_code == 404


def test_another_citizens_entries_are_never_shown(login, demo, moves):
    client = login(demo["张伟"])
    response = client.get(STATEMENT)
    text = _text(response)
    assert "800.00" in text
    assert "王德胜" not in text and "4412.00" not in text
    assert len(_rows(response)) == 1
    _header, *rows = _csv(client.get(CSV_URL))
    assert len(rows) == 1 and rows[0][3] == "800.00"
    # Nothing paid for 张伟 by anyone, and nothing of 王德胜's shows on his page either.
    response = client.get(PAID_FOR_ME)
    assert _rows(response) == []
    assert "王建国" not in _text(response)


def test_pages_need_a_login(client):
    for url in (STATEMENT, CSV_URL, PAID_FOR_ME):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_staff_login_is_sent_to_the_admin(client, demo):
    staff = User.objects.get(username="js_clerk")
    client.force_login(staff)
    assert "经办管理" in _text(client.get(STATEMENT))
    assert client.get(CSV_URL).status_code == 404


def test_nav_links_to_my_account(login, demo):
    assert f'href="{STATEMENT}"' in login(demo["王丽"]).get(reverse("home")).content.decode()


# ---------------------------------------------------------------------------------------------
# 为我支付的记录


def test_member_sees_what_others_paid_and_by_whom(login, demo, moves):
    response = login(demo["王德胜"]).get(PAID_FOR_ME)
    assert response.status_code == 200
    rows = _rows(response)
    assert len(rows) == 2
    premium_row, settlement_row = rows
    assert "王建国" in premium_row and "400.00" in premium_row
    assert "2027年度城乡居民医保保费" in premium_row and "南京市" in premium_row
    assert "王建国" in settlement_row and "120.50" in settlement_row
    assert "南京市仁和大药房" in settlement_row and "药店购药" in settlement_row
    assert "20.50" in settlement_row  # refunded to 王建国 (R17)
    assert "88.00" not in _text(response)  # 王建国's own visit was not for 王德胜
    assert_no_full_numbers(response.content.decode())


def test_own_account_payments_are_not_listed_as_paid_for_me(login, demo, institutions):
    settle(institutions["JS-HOSP-001"], demo["李秀英"], "50.00")
    response = login(demo["李秀英"]).get(PAID_FOR_ME)
    assert _rows(response) == []
    assert "还没有家庭成员通过家庭共济为其支付过费用" in _text(response)


def test_member_view_is_paginated_in_constant_queries(
    login, demo, institutions, django_assert_max_num_queries
):
    hosp = institutions["JS-HOSP-001"]
    settle(hosp, demo["王德胜"], "1.00")
    client = login(demo["王德胜"])
    before = count_queries(client, PAID_FOR_ME)
    for i in range(ENTRIES_PER_PAGE + 3):
        settle(hosp, demo["王德胜"], f"{i + 2}.00")
    premium(demo["王建国"], demo["王德胜"])
    assert count_queries(client, PAID_FOR_ME) == before
    # session, user, person, wards, count, one UNION page of settlements and premiums, inbox badge
    with django_assert_max_num_queries(7):
        first = client.get(PAID_FOR_ME)
    assert "共 25 条记录" in _text(first)
    assert len(_rows(first)) == ENTRIES_PER_PAGE
    assert "1.00" in _rows(client.get(PAID_FOR_ME, {"page": 2}))[-1]


def test_holder_of_a_minor_sees_what_was_paid_for_the_child(login, demo, institutions):
    """R22 (chosen): a citizen may view the page of a person they act for, as
    family.selectors.wards_for says: a registered ward, or a minor they bind as holder. Here the
    Xinjiang child 马小燕 is paid for by her father and, in deduction order, by her mother."""
    hosp = institutions["XJ-HOSP-001"]
    settle(hosp, demo["马小燕"], "1300.00")  # 1200.00 from 马志强, then 100.00 from 古丽娜 (R9)
    client = login(demo["古丽娜"])
    own = client.get(PAID_FOR_ME)
    url = reverse("payments:paid-for-ward", args=[demo["马小燕"].public_id])
    assert f'href="{url}"' in own.content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert "为马小燕支付的记录" in _text(response)
    rows = _rows(response)
    assert len(rows) == 2
    assert "古丽娜" in rows[0] or "古丽娜" in rows[1]
    payers = sorted((re.search(r"(马志强|古丽娜)", r).group(1), r) for r in rows)
    assert "100.00" in payers[0][1] and "1200.00" in payers[1][1]


@pytest.mark.parametrize("name", ["张伟", "王建国"])
def test_a_ward_page_is_404_for_anyone_else(login, demo, name):
    url = reverse("payments:paid-for-ward", args=[demo["马小燕"].public_id])
    assert login(demo[name]).get(url).status_code == 404


def test_an_unknown_ward_id_is_404(login, demo):
    url = reverse("payments:paid-for-ward", args=[uuid.uuid4()])
    assert login(demo["马志强"]).get(url).status_code == 404


def test_a_statement_never_shows_another_accounts_legs(demo, moves):
    # The selector is scoped by account: 李秀英's statement never includes 王建国's legs.
    account = LedgerAccount.objects.get(person=demo["李秀英"])
    legs = selectors.statement_legs(account=account)
    assert {leg.account_id for leg in legs} == {account.pk}
    assert LedgerLeg.objects.filter(account__person=demo["王建国"]).count() == 5
