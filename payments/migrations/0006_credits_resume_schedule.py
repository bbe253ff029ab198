"""Default schedule of the credit batches' catch-up (issue 13 point 6), editable in the admin
(周期任务): every minute, post what a dead worker or an unreachable broker left pending."""

from django.db import migrations
from django.utils import timezone


# The schedule helpers, copied into each migration (frozen history: a migration imports no
# project module). get_or_create by name: re-running keeps whatever staff changed in the admin.
def ensure_schedule(
    apps,
    *,
    name: str,
    task: str,
    description: str,
    expire_seconds: int,
    minute: str = "*",
    hour: str = "*",
) -> None:
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    changed_model = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _ = crontab_model.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    task_model.objects.get_or_create(
        name=name,
        defaults={
            "task": task,
            "crontab": crontab,
            "description": description,
            "expire_seconds": expire_seconds,
            "enabled": True,
        },
    )
    # Tell a running beat that the schedule changed (what PeriodicTask.save() does).
    changed_model.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, *, name: str) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()


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
