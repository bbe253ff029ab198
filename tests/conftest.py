import pytest
from django.core.cache import cache

from accounts import sms
from accounts.demo import seed_accounts
from accounts.models import InsuredPerson


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


@pytest.fixture
def demo(db):
    """The demo cast of ../shared/demo-cast.md, loaded through the real services."""
    seed_accounts(log=lambda line: None)
    return {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}
