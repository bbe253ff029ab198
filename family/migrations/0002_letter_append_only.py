"""Signed commitment letters are immutable (R7): on PostgreSQL a trigger refuses UPDATE and DELETE.

The many-to-many link to the authorizations a letter covers is written once, in the transaction
that signs it; it is guarded the same way except for inserts."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION family_letter_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'signed commitment letters are immutable (R7): % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER family_commitmentletter_immutable
    BEFORE UPDATE OR DELETE ON family_commitmentletter
    FOR EACH ROW EXECUTE FUNCTION family_letter_immutable();
CREATE TRIGGER family_commitmentletter_authorizations_immutable
    BEFORE UPDATE OR DELETE ON family_commitmentletter_authorizations
    FOR EACH ROW EXECUTE FUNCTION family_letter_immutable();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS family_commitmentletter_immutable ON family_commitmentletter;
DROP TRIGGER IF EXISTS family_commitmentletter_authorizations_immutable
    ON family_commitmentletter_authorizations;
DROP FUNCTION IF EXISTS family_letter_immutable();
"""


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("family", "0001_initial")]

    operations = [migrations.RunPython(add_trigger, drop_trigger)]
