"""Fixtures for the payments tests: the whole demo cast (people, balances, relationships,
institutions), built by the real services."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from accounts.demo import seed_accounts
from accounts.models import InsuredPerson
from family.demo import seed_family
from payments.demo import seed_balances, seed_institutions
from payments.models import Institution

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def load_demo() -> None:
    quiet = lambda line: None  # noqa: E731
    seed_accounts(log=quiet)
    seed_balances(log=quiet)
    seed_family(log=quiet)
    seed_institutions(log=quiet)


def people() -> dict[str, InsuredPerson]:
    return {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}


@pytest.fixture
def demo(db):
    """The demo cast with balances, relationships and institutions: people by name."""
    load_demo()
    return people()


@pytest.fixture
def institutions(demo):
    return {i.code: i for i in Institution.objects.select_related("region")}
