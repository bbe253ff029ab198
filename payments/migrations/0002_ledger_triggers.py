"""Ledger guarantees kept by PostgreSQL itself (django-hordak's approach):

- the legs of one ledger transaction sum to zero, checked at commit by a deferred constraint
  trigger (so a service may insert the legs one by one inside its transaction);
- ledger transactions, legs and the allocation lines of settlements, refunds and premiums are
  append-only: UPDATE and DELETE are refused; a correction is a new movement.

SQLite (the `make run` demo) has neither; the services keep the same rules in Python."""

from django.db import migrations

APPEND_ONLY = [
    "payments_ledgertransaction",
    "payments_ledgerleg",
    "payments_settlementline",
    "payments_refundline",
    "payments_premiumpaymentline",
]

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION payments_legs_sum_to_zero() RETURNS trigger AS $$
DECLARE
    total numeric;
BEGIN
    SELECT COALESCE(SUM(amount), 0) INTO total
        FROM payments_ledgerleg WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'legs of ledger transaction % sum to %, not 0', NEW.transaction_id, total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER payments_ledgerleg_sum_to_zero
    AFTER INSERT ON payments_ledgerleg
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payments_legs_sum_to_zero();

CREATE OR REPLACE FUNCTION payments_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused; post a correction instead',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS payments_ledgerleg_sum_to_zero ON payments_ledgerleg;
DROP FUNCTION IF EXISTS payments_legs_sum_to_zero();
"""


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(TRIGGER_SQL, params=None)
    for table in APPEND_ONLY:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION payments_append_only();",
            params=None,
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};", None)
    schema_editor.execute(DROP_SQL + "DROP FUNCTION IF EXISTS payments_append_only();", None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
