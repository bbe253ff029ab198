"""Default schedule of the credit batches' catch-up (issue 13 point 6), editable in the admin
(周期任务): every minute, post what a dead worker or an unreachable broker left pending."""

from django.db import migrations

from accounts.schedules import ensure_schedule, remove_schedule

SCHEDULE = {
    "name": "个人账户划入续做（每分钟）",
    "task": "payments.resume_credit_batches",
    "description": "Post the pending rows of credit batches that are not done (a worker died "
    "mid-import, or the broker was down when the upload committed).",
    "expire_seconds": 55,
    "minute": "*",
}


def forwards(apps, schema_editor):
    ensure_schedule(apps, **SCHEDULE)


def backwards(apps, schema_editor):
    remove_schedule(apps, name=SCHEDULE["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_credit_rows"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
