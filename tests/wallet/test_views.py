"""The citizen's wallet pages (R23): the overview, the open page (确认使用钱包: insured place and
masked phone, two required confirmations) and the close confirmation, walked with Django's test
client on PostgreSQL. A refusal is shown in the page (never a 5xx) and changes nothing; there is
no id in the URLs, so a person only ever reaches their own wallet."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditEntry, RegionPolicy
from wallet import errors, services
from wallet.models import Wallet
from wallet.views import CLOSED, OPENED

pytestmark = pytest.mark.django_db

OVERVIEW, OPEN, CLOSE = (reverse(f"wallet:{name}") for name in ("overview", "open", "close"))
CONFIRMED = {"confirm_place": "on", "confirm_phone": "on"}
# session, user, person with its region, wallet (5), plus the session's message write after a
# redirect: whatever the data
PAGE_QUERIES = 8
# the overview also reads the holdings, the transfers waiting for an answer and whether the
# person may send one (account, pending, today's count: tests/wallet/test_transfer_views.py)
OVERVIEW_QUERIES = PAGE_QUERIES + 4


def text(response) -> str:
    return html.unescape(response.content.decode())


def open_wallet(person):
    return services.wallet_open(
        person=person,
        actor=person.user,
        channel=AuditEntry.Channel.ONLINE,
        confirm_place=True,
        confirm_phone=True,
    )


def test_anonymous_visitors_are_sent_to_the_login(client):
    for url in (OVERVIEW, OPEN, CLOSE):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_overview_before_opening_offers_the_open_button(
    client, demo, django_assert_max_num_queries
):  # R23
    client.force_login(demo["王建国"].user)
    with django_assert_max_num_queries(OVERVIEW_QUERIES):
        response = client.get(OVERVIEW)
    assert response.status_code == 200
    page = text(response)
    assert "未开通" in page and "确认使用钱包" in page and OPEN in page
    assert "江苏省南京市（320100）" in page
    assert "no-store" in response["Cache-Control"]


def test_the_open_page_shows_the_place_and_the_masked_phone(
    client, demo, django_assert_max_num_queries
):  # R23
    wang = demo["王建国"]
    client.force_login(wang.user)
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = client.get(OPEN)
    page = text(response)
    assert response.status_code == 200
    assert wang.masked_phone in page and wang.phone not in page
    assert "我确认参保地为江苏省南京市（320100）" in page
    assert f"我确认手机号码为{wang.masked_phone}" in page
    assert 'name="confirm_place"' in page and 'name="confirm_phone"' in page
    assert "csrfmiddlewaretoken" in page


def test_opening_then_closing_through_the_pages(client, demo, django_assert_max_num_queries):
    wang = demo["王建国"]
    client.force_login(wang.user)
    with django_assert_max_num_queries(PAGE_QUERIES + 7):  # + the locks, insert and audit
        response = client.post(OPEN, CONFIRMED)
    assert response.status_code == 302 and response["Location"] == OVERVIEW
    wallet = Wallet.objects.get(person=wang)
    assert wallet.is_open
    page = text(client.get(OVERVIEW))
    assert str(OPENED) in page and "已开通" in page and "0.00 元" in page and CLOSE in page

    with django_assert_max_num_queries(PAGE_QUERIES):
        response = client.get(CLOSE)
    assert response.status_code == 200 and "确认关闭钱包" in text(response)
    response = client.post(CLOSE, {})
    assert response.status_code == 302 and response["Location"] == OVERVIEW
    wallet.refresh_from_db()
    assert wallet.status == Wallet.Status.CLOSED
    page = text(client.get(OVERVIEW))
    assert str(CLOSED) in page and "已关闭" in page and OPEN in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"confirm_phone": "on"}, errors.WALLET_PLACE_NOT_CONFIRMED),
        ({"confirm_place": "on"}, errors.WALLET_PHONE_NOT_CONFIRMED),
    ],
)
def test_a_missing_confirmation_is_shown_at_its_box(client, demo, data, message):  # R23
    client.force_login(demo["王建国"].user)
    response = client.post(OPEN, data)
    assert response.status_code == 200
    assert str(message) in text(response)
    assert not Wallet.objects.exists()


def test_a_region_without_wallets_is_explained_in_the_pages(client, demo):  # R23
    RegionPolicy.objects.filter(code="320100").update(wallet_enabled=False)
    client.force_login(demo["王建国"].user)
    assert str(errors.WALLET_NOT_OFFERED) in text(client.get(OVERVIEW))
    page = text(client.get(OPEN))
    assert str(errors.WALLET_NOT_OFFERED) in page and 'name="confirm_place"' not in page
    response = client.post(OPEN, CONFIRMED)
    assert response.status_code == 200
    assert str(errors.WALLET_NOT_OFFERED) in text(response)
    assert not Wallet.objects.exists()


def test_a_person_not_in_normal_status_is_told_why(client, demo):  # R23
    client.force_login(demo["孙强"].user)
    response = client.post(OPEN, CONFIRMED)
    assert response.status_code == 200
    assert str(errors.WALLET_PERSON_NOT_NORMAL) in text(response)
    assert not Wallet.objects.exists()


def test_a_double_submit_opens_one_wallet_and_says_so(client, demo):  # R23
    client.force_login(demo["王建国"].user)
    assert client.post(OPEN, CONFIRMED).status_code == 302
    response = client.post(OPEN, CONFIRMED)
    assert response.status_code == 200
    assert text(response).count(str(errors.WALLET_ALREADY_OPEN)) == 1  # said once
    assert Wallet.objects.count() == 1


def test_a_wallet_with_money_cannot_be_closed_and_the_page_says_why(client, demo):  # R23
    wang = demo["王建国"]
    wallet = open_wallet(wang)
    Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("12.50"))
    client.force_login(wang.user)
    page = text(client.get(OVERVIEW))
    assert "12.50 元" in page
    page = text(client.get(CLOSE))
    assert str(errors.WALLET_NOT_EMPTY) in page and "确认关闭钱包" not in page
    response = client.post(CLOSE, {})
    assert response.status_code == 200
    assert text(response).count(str(errors.WALLET_NOT_EMPTY)) == 1
    wallet.refresh_from_db()
    assert wallet.is_open


def test_closing_without_a_wallet_is_refused_in_the_page(client, demo):  # R23
    client.force_login(demo["王建国"].user)
    response = client.post(CLOSE, {})
    assert response.status_code == 200
    assert str(errors.WALLET_NOT_OPEN) in text(response)


def test_another_persons_wallet_is_never_reached(client, demo):  # R23
    wang, li = demo["王建国"], demo["李秀英"]
    wallet = open_wallet(wang)
    Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("7.00"))
    client.force_login(li.user)
    page = text(client.get(OVERVIEW))
    assert "未开通" in page and "7.00" not in page and str(wallet.public_id) not in page
    # her close is about her own (missing) wallet; his stays open
    response = client.post(CLOSE, {})
    assert str(errors.WALLET_NOT_OPEN) in text(response)
    wallet.refresh_from_db()
    assert wallet.is_open
    # her open opens her own
    assert client.post(OPEN, CONFIRMED).status_code == 302
    assert Wallet.objects.get(person=li).is_open and Wallet.objects.count() == 2


def test_staff_see_an_explanation_and_no_form(client, demo):
    client.force_login(demo.staff["js_clerk"])
    response = client.get(OVERVIEW)
    assert response.status_code == 200 and "医保钱包由参保人本人办理" in text(response)
    for url in (OPEN, CLOSE):
        response = client.post(url, CONFIRMED)
        assert response.status_code == 302 and response["Location"] == OVERVIEW
    assert not Wallet.objects.exists()


def test_the_nav_links_the_wallet_for_citizens(client, demo):
    client.force_login(demo["王建国"].user)
    assert f'href="{OVERVIEW}"' in text(client.get(reverse("home")))


@pytest.fixture
def back_to_chinese():
    """The test client leaves the last request's language active in this thread: put the
    default back for the tests that follow."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_the_pages_speak_english_too(client, demo, back_to_chinese):  # R23
    wang = demo["王建国"]
    client.force_login(wang.user)
    client.post(reverse("set_language"), {"language": "en", "next": OVERVIEW})
    page = text(client.get(OVERVIEW))
    assert "Medical insurance wallet" in page and "Not opened" in page
    page = text(client.get(OPEN))
    assert f"I confirm that my phone number is {wang.masked_phone}" in page
    response = client.post(OPEN, {"confirm_place": "on"})
    assert "Please confirm your phone number" in text(response)
