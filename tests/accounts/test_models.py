"""Database guarantees (PostgreSQL): the Python checks give the message, these give the proof."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, ResidentPremium
from tests.factories import InsuredPersonFactory, RegionPolicyFactory


@pytest.fixture
def region(db):
    return RegionPolicyFactory()


def test_region_province_is_derived_from_the_code_in_the_database(region):
    region.refresh_from_db()
    assert region.province_code == "32"
    assert region.province_name == "江苏省"
    assert RegionPolicy.objects.filter(province_code="32").count() == 1


def test_region_code_must_be_six_digits_in_the_database(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        RegionPolicy.objects.create(code="3201", name="x")


def test_lifetime_cap_below_at_once_cap_is_refused_by_the_database(db):  # R21
    with pytest.raises(IntegrityError), transaction.atomic():
        RegionPolicy.objects.create(
            code="430100", name="长沙市", max_members_at_once=10, max_members_lifetime=5
        )


def test_identity_number_shape_is_guaranteed_by_the_database(region):
    person = InsuredPersonFactory(region=region)
    with pytest.raises(IntegrityError), transaction.atomic():
        InsuredPerson.objects.filter(pk=person.pk).update(id_number="32010219750312123x")


def test_identity_numbers_are_unique(region):
    person = InsuredPersonFactory(region=region)
    with pytest.raises(IntegrityError), transaction.atomic():
        InsuredPersonFactory(region=region, id_number=person.id_number)


def test_one_premium_per_region_and_year(region):
    values = {
        "amount": Decimal("400.00"),
        "collection_start": dt.date(2026, 9, 1),
        "collection_end": dt.date(2026, 12, 31),
        "benefit_start": dt.date(2027, 1, 1),
        "benefit_end": dt.date(2027, 12, 31),
    }
    ResidentPremium.objects.create(region=region, year=2027, **values)
    with pytest.raises(IntegrityError), transaction.atomic():
        ResidentPremium.objects.create(region=region, year=2027, **values)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("0.00")},
        {"collection_end": dt.date(2026, 8, 1)},
        {"benefit_end": dt.date(2026, 12, 31)},
    ],
)
def test_premium_amount_and_periods_are_checked_by_the_database(region, change):
    values = {
        "amount": Decimal("400.00"),
        "collection_start": dt.date(2026, 9, 1),
        "collection_end": dt.date(2026, 12, 31),
        "benefit_start": dt.date(2027, 1, 1),
        "benefit_end": dt.date(2027, 12, 31),
        **change,
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        ResidentPremium.objects.create(region=region, year=2027, **values)


def test_clean_derives_birth_date_and_sex_from_the_number(region):
    person = InsuredPerson(id_number="32010219750312123x", name="王建国", region=region)
    person.clean()
    assert person.id_number == "32010219750312123X"
    assert person.birth_date == dt.date(1975, 3, 12)
    assert person.sex == "M"


def test_audit_entries_cannot_be_updated_or_deleted(region):  # R20
    entry = AuditEntry.objects.create(
        channel="system", action="test", object_type="x", object_id="1"
    )
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="changed")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT action FROM accounts_auditentry WHERE id = %s", [entry.pk])
        assert cursor.fetchone() == ("test",)


def test_both_domain_policies_are_seeded_by_migration(db):
    jiangsu = RegionPolicy.objects.get(code="320100")
    wujiaqu = RegionPolicy.objects.get(code="659004")
    assert (jiangsu.member_in_several_relationships, wujiaqu.member_in_several_relationships) == (
        False,
        True,
    )  # R5
    assert (jiangsu.consent_age, jiangsu.consent_days) == (16, 7)  # R8
    assert wujiaqu.counter_agreement == RegionPolicy.CounterAgreement.WITHHOLDING_AGREEMENT
    premium = wujiaqu.premiums.get(year=2025)  # R16, the Wujiaqu seed
    assert premium.amount == Decimal("400.00")
    assert (premium.collection_start, premium.collection_end) == (
        dt.date(2024, 8, 26),
        dt.date(2024, 12, 20),
    )
    assert (premium.benefit_start, premium.benefit_end, premium.waiting_months) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
        3,
    )
