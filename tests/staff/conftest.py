"""Fixtures for the staff console (issue 6): the whole demo story with its staff users."""

from types import SimpleNamespace

import pytest

from accounts.demo import seed_accounts
from accounts.models import InsuredPerson, User
from family.demo import seed_family
from payments.demo import seed_balances, seed_institutions


def _quiet(line):
    return None


@pytest.fixture
def story(db):
    """The demo cast (people, balances, institutions, relationships) and the demo staff:
    `story.people["王建国"]`, `story.staff["js_clerk"]` (regions 320100/320200, 窗口经办),
    `story.staff["js_super"]` (same regions, 审核), `story.staff["xj_clerk"]` (659004, 窗口经办),
    `story.staff["admin"]` (superuser, all regions, 管理员)."""
    seed_accounts(log=_quiet)
    seed_balances(log=_quiet)
    seed_institutions(log=_quiet)
    seed_family(log=_quiet)
    people = {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}
    staff = {u.username: u for u in User.objects.filter(is_staff=True)}
    return SimpleNamespace(people=people, staff=staff)


@pytest.fixture
def scan_root(settings, tmp_path):
    """Counter scans are stored under a temporary directory."""
    root = tmp_path / "scans"
    settings.COUNTER_SCAN_ROOT = root
    return root
