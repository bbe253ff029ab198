"""Fixtures for the family app: the demo cast with its relationships, built by the real services."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from accounts.demo import seed_accounts
from accounts.models import InsuredPerson
from family.demo import seed_family
from payments.demo import seed_balances

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A fixed "now" for service tests that pass `at=`: after the demo bindings, inside 王德胜's window.
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def cast(db):
    """The demo people with their account balances (no relationships yet), by name."""
    seed_accounts(log=lambda line: None)
    seed_balances(log=lambda line: None)
    return {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}


@pytest.fixture
def demo_family(cast):
    """The demo people with the relationships of docs/demo.md, by name (fresh rows)."""
    seed_family(log=lambda line: None)
    return {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}
