"""Default schedule of the ledger reconciliation (issue 5 point 6), editable in the admin
(周期任务): every night at 02:30 Asia/Shanghai, when settlements are few."""

from django.db import migrations

from accounts.schedules import ensure_schedule, remove_schedule

SCHEDULE = {
    "name": "个人账户对账（每天2:30）",
    "task": "payments.reconcile_ledger",
    "description": "Every personal account's cached balance against the sum of its legs; "
    "mismatches are recorded for staff, never fixed.",
    "expire_seconds": 3600,
    "minute": "30",
    "hour": "2",
}


def forwards(apps, schema_editor):
    ensure_schedule(apps, **SCHEDULE)


def backwards(apps, schema_editor):
    remove_schedule(apps, name=SCHEDULE["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0003_reconciliation"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
