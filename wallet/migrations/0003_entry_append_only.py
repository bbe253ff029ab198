"""Wallet entries are append-only, as the ledger is (payments 0002's function): UPDATE and DELETE
are refused; a correction is a new entry."""

from django.db import migrations

TABLE = "wallet_entry"


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION payments_append_only();",
        params=None,
    )


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};", None)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0002_transfers"), ("payments", "0002_ledger_triggers")]

    operations = [migrations.RunPython(add_trigger, drop_trigger)]
