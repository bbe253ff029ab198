import datetime as dt
import os

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, settings

from accounts import sms
from tests.demo import Demo, load_demo

# One hypothesis profile for the whole suite: examples are judged, not timed. On a loaded 2-core
# machine (CI beside another run, browser tests) generation and the database are slower, and a
# timing health check or deadline would fail a correct test. `derandomize` keeps a run
# repeatable: the same examples on every machine, so CI cannot go red on a new draw that a
# developer never saw (the seed to reproduce is then always the same).
settings.register_profile(
    "portal",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
    print_blob=True,
)
settings.load_profile("portal")


def pytest_configure(config):
    """PORTAL_TEST_NOW=2027-03-01T10:00+08:00 runs the suite as if the clock said so (ticking
    from there): a date the demo or a test took for granted shows up as a failure today, not on
    the day it comes. Tests that pin their own time (time_machine) are unaffected."""
    moment = os.environ.get("PORTAL_TEST_NOW")
    if moment:
        import time_machine

        config._portal_travel = time_machine.travel(dt.datetime.fromisoformat(moment), tick=True)
        config._portal_travel.start()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    """accounts.sms.outbox (the locmem SMS backend of the test settings) starts empty."""
    sms.outbox.clear()
    yield
    sms.outbox.clear()


# The demo fixtures: one loader (tests/demo.py, as seed_demo loads the cast) and one shape, a
# `Demo` (people by name, `.staff` by username). The variants differ only where a test needs it.


@pytest.fixture
def demo(db) -> Demo:
    """The whole demo cast (people, staff, balances, relationships, institutions)."""
    return load_demo()


@pytest.fixture
def demo_unbound(db) -> Demo:
    """The demo people with their balances and no relationship yet, for tests that bind."""
    return load_demo(until="balances")


@pytest.fixture
def demo_accounts(db) -> Demo:
    """The accounts app's part of the cast only (people, users, staff): no balances, and none
    of the notifications that binding sends (the inbox tests count them)."""
    return load_demo(until="accounts")


@pytest.fixture
def demo_transactional(transactional_db) -> Demo:
    """The whole demo cast committed, for tests that run work in threads of their own."""
    return load_demo()


@pytest.fixture
def pillow_lenient(monkeypatch):
    """Pillow as WeasyPrint leaves it for the whole process once imported (it sets
    `ImageFile.LOAD_TRUNCATED_IMAGES`, so that a truncated picture loads as far as it goes):
    upload checks must refuse a truncated file all the same, and leave the flag as they found it
    (issue 13)."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    yield
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
