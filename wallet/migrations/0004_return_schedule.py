"""Default schedule of the R25 return pass, editable in the admin (周期任务): every five minutes,
so that what is due at 06:00 is back at 06:00 and a lost run is made good five minutes later."""

from django.db import migrations

from accounts.schedules import ensure_schedule, remove_schedule

SCHEDULE = {
    "name": "医保钱包转账逾期退回（每5分钟）",
    "task": "wallet.return_due_transfers",
    "description": "Pending wallet transfers past their answer time (06:00 the next day) go "
    "back to the sender's personal account; both sides are told.",
    "expire_seconds": 240,
    "minute": "*/5",
}


def forwards(apps, schema_editor):
    ensure_schedule(apps, **SCHEDULE)


def backwards(apps, schema_editor):
    remove_schedule(apps, name=SCHEDULE["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0003_entry_append_only"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
