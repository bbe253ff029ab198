import pytest
from django.core.cache import cache

from accounts.demo import seed_accounts
from accounts.models import InsuredPerson


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo(db):
    """The demo cast of ../shared/demo-cast.md, loaded through the real services."""
    seed_accounts(log=lambda line: None)
    return {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}


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
