"""The wallet premium page (R26): the checks before paying, paying once whatever the clicks,
refusals in the page changing nothing, the receipt; bounded queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import PremiumPayment
from tests.clock import NOW
from tests.wallet.helpers import give, open_wallet
from wallet.models import Wallet

pytestmark = pytest.mark.django_db

URL = reverse("wallet:premium")


@pytest.fixture
def father(demo, client, time_machine):
    time_machine.move_to(NOW, tick=False)
    person = demo.people["王德胜"]
    open_wallet(person)
    client.force_login(person.user)
    return person


def html(response) -> str:
    return response.content.decode()


def test_the_page_shows_the_checks_then_pays_once(
    client, demo, father, django_assert_max_num_queries
):
    give(demo.people["王建国"], father, "500.00")
    with django_assert_max_num_queries(14):
        page = client.get(URL)
    text = html(page)
    assert "2027年度缴费校验" in text and "400.00" in text
    key = page.context["form"]["key"].value()
    data = {"year": "2027", "confirm": "on", "key": key}
    first = client.post(URL, data)
    payment = PremiumPayment.objects.get()
    assert first.status_code == 302
    assert first.url == reverse("payments:premium-detail", args=[payment.public_id])
    again = client.post(URL, data)  # a double click: the same payment
    assert again.url == first.url and PremiumPayment.objects.count() == 1
    assert Wallet.objects.get(person=father).balance == Decimal("100.00")
    receipt = client.get(first.url)
    assert receipt.status_code == 200 and "医保钱包" in html(receipt)


def test_a_wallet_short_of_the_premium_is_told_and_nothing_changes(client, demo, father):
    give(demo.people["王建国"], father, "100.00")
    response = client.post(URL, {"year": "2027", "confirm": "on", "key": "k"})
    assert response.status_code == 200
    assert "不足以缴纳400.00元的保费" in html(response)
    assert not PremiumPayment.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"year": "2027", "key": "k"},  # not confirmed
        {"year": "1999", "confirm": "on", "key": "k"},
        {"year": "二〇二七", "confirm": "on", "key": "k"},
        {"year": "2027", "confirm": "on", "key": "k" * 500},
    ],
)
def test_bad_input_is_refused_in_the_page(client, demo, father, data):
    give(demo.people["王建国"], father, "500.00")
    response = client.post(URL, data)
    assert response.status_code == 200 and not PremiumPayment.objects.exists()
    assert response.context["form"].errors


def test_without_a_wallet_the_page_says_how_to_open_one(client, demo, time_machine):
    time_machine.move_to(NOW, tick=False)
    client.force_login(demo.people["王丽"].user)
    assert "您还没有开通医保钱包" in html(client.get(URL))
