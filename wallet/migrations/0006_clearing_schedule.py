"""Default schedule of the R27 clearing run, editable in the admin (周期任务): every night at
01:00 Asia/Shanghai, netting the day before."""

from django.db import migrations

from accounts.schedules import ensure_schedule, remove_schedule

SCHEDULE = {
    "name": "跨统筹区清算轧差（每天1:00）",
    "task": "wallet.clearing_run",
    "description": "Cross-region wallet spends and refunds of the day before, netted per pair of "
    "regions into clearing batches for both regions to confirm.",
    "expire_seconds": 3600,
    "minute": "0",
    "hour": "1",
}


def forwards(apps, schema_editor):
    ensure_schedule(apps, **SCHEDULE)


def backwards(apps, schema_editor):
    remove_schedule(apps, name=SCHEDULE["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0005_clearing"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
