"""The age of majority (accounts.models.ADULT_AGE): one rule, for a person and for a query."""

import datetime as dt
import itertools
from types import SimpleNamespace

from django.utils import timezone

from accounts.models import ADULT_AGE
from accounts.selectors import adult_birth_cutoff, age_on, person_is_minor


def _person(born: dt.date):
    return SimpleNamespace(birth_date=born)


def _noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def test_the_age_of_majority_is_eighteen():  # 民法典第十七条
    assert ADULT_AGE == 18


def test_a_minor_until_the_eighteenth_birthday():  # R10, R22
    born = dt.date(2008, 6, 15)
    assert person_is_minor(person=_person(born), at=_noon(dt.date(2026, 6, 14)))
    assert not person_is_minor(person=_person(born), at=_noon(dt.date(2026, 6, 15)))
    assert age_on(_person(born), dt.date(2026, 6, 15)) == ADULT_AGE


def test_the_query_cutoff_agrees_with_the_person_rule_around_29_february():
    days = [dt.date(2024, 2, 28), dt.date(2024, 2, 29), dt.date(2024, 3, 1), dt.date(2026, 2, 28)]
    births = [
        dt.date(y, m, d)
        for y, (m, d) in itertools.product(
            range(2005, 2010), [(2, 27), (2, 28), (3, 1), (3, 2), (12, 31)]
        )
    ] + [dt.date(2008, 2, 29), dt.date(2004, 2, 29)]
    for day, born in itertools.product(days, births):
        minor = person_is_minor(person=_person(born), at=_noon(day))
        assert minor == (born > adult_birth_cutoff(day)), (day, born)
