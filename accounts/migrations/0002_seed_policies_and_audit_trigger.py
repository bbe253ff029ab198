"""Seed the two region policies of docs/rules.md as data staff can edit, and make the audit trail
append-only on PostgreSQL (a trigger refuses UPDATE and DELETE; SQLite, used only by the
`make run` demo, has no such guarantee)."""

import datetime as dt
from decimal import Decimal

from django.db import migrations

POLICIES = [
    {
        # A Jiangsu city (docs/rules.md; the city's 2025 Q&A): exclusive
        # membership, province scope, consent from 16 within 7 days, family-relationship letter.
        "code": "320100",
        "name": "南京市",
        "member_scope": "province",
        "member_in_several_relationships": False,
        "consent_age": 16,
        "consent_days": 7,
        "counter_agreement": "relationship_letter",
    },
    {
        # Wujiaqu, Xinjiang (its 2025 child-premium notice): several holders per member,
        # ordered by the member; counter agreement 个人账户代扣协议.
        "code": "659004",
        "name": "五家渠市",
        "member_scope": "province",
        "member_in_several_relationships": True,
        "consent_age": 16,
        "consent_days": 7,
        "counter_agreement": "withholding_agreement",
    },
]

WUJIAQU_2025 = {
    "year": 2025,
    "amount": Decimal("400.00"),
    "collection_start": dt.date(2024, 8, 26),
    "collection_end": dt.date(2024, 12, 20),
    "benefit_start": dt.date(2025, 1, 1),
    "benefit_end": dt.date(2025, 12, 31),
    "waiting_months": 3,
}

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION accounts_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only (R20): % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditentry_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditentry
    FOR EACH ROW EXECUTE FUNCTION accounts_auditentry_append_only();
"""

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS accounts_auditentry_append_only ON accounts_auditentry;
DROP FUNCTION IF EXISTS accounts_auditentry_append_only();
"""


def seed(apps, schema_editor):
    RegionPolicy = apps.get_model("accounts", "RegionPolicy")
    ResidentPremium = apps.get_model("accounts", "ResidentPremium")
    for row in POLICIES:
        RegionPolicy.objects.get_or_create(code=row["code"], defaults=row)
    wujiaqu = RegionPolicy.objects.get(code="659004")
    ResidentPremium.objects.get_or_create(
        region=wujiaqu, year=WUJIAQU_2025["year"], defaults=WUJIAQU_2025
    )


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
