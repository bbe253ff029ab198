"""The wallet in the admin (R23, R27): read-only and region-scoped like every admin page; no
full identity number on it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from payments.models import Institution
from tests.clock import NOW
from tests.payments.builders import settle
from tests.wallet.helpers import give, open_wallet
from wallet.models import ClearingBatch, Transfer, Wallet
from wallet.services import clearing

pytestmark = pytest.mark.django_db


@pytest.fixture
def state(demo):
    wang, mother = demo.people["王建国"], demo.people["王秀兰"]
    open_wallet(mother)
    open_wallet(wang)
    give(wang, mother, "500.00", at=NOW)
    settle(Institution.objects.get(code="HZ-HOSP-001"), mother, "300.00")
    clearing.clearing_run(at=NOW + dt.timedelta(days=1))
    return demo


@pytest.mark.parametrize("model", [Wallet, Transfer, ClearingBatch])
def test_scoped_and_read_only(client, state, model):
    name = f"admin:wallet_{model._meta.model_name}"
    client.force_login(state.staff["js_super"])
    page = client.get(reverse(f"{name}_changelist"))
    assert page.status_code == 200
    assert "330102195004182022" not in page.content.decode()
    assert "32010219750312123X" not in page.content.decode()
    row = model.objects.get(person__name="王建国") if model is Wallet else model.objects.first()
    assert client.get(reverse(f"{name}_change", args=[row.pk])).status_code == 200
    assert client.get(reverse(f"{name}_add")).status_code == 403
    client.force_login(state.staff["xj_clerk"])  # 659004 only
    listing = client.get(reverse(f"{name}_changelist"))
    if listing.status_code == 200:
        assert listing.context["cl"].result_count == 0
    else:
        assert listing.status_code == 403


def test_wallets_of_the_other_side_are_not_shown(client, state):
    """js_super serves 320100/320200: 王建国's wallet, not his mother's in 330100."""
    client.force_login(state.staff["js_super"])
    page = client.get(reverse("admin:wallet_wallet_changelist"))
    owners = {w.person.name for w in page.context["cl"].result_list}
    assert owners == {"王建国"}
