"""Every page of the catalogue (tests/properties/catalogue.py), attacked as tests/properties/
attack.py describes: no 5xx, and nothing written by a GET or a refused POST."""

import pytest

from .attack import attack
from .catalogue import PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.id)
def test_hostile_values_give_no_5xx_and_change_nothing_when_refused(page, world, client, db):
    attack(client, world, page)
