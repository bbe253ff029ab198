"""Default schedules of the family tasks (issue 5), editable in the admin (周期任务)."""

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


SCHEDULES = [
    {
        "name": "共济授权到期与生效（每分钟）",
        "task": "family.run_lifecycle",
        "description": "Expire authorizations whose window ended; start scheduled ones.",
        "expire_seconds": 55,
        "minute": "*",
    },
    {
        "name": "成员确认超期失效（每10分钟）",
        "task": "family.lapse_consents",
        "description": "R8: consent requests unanswered by their deadline lapse.",
        "expire_seconds": 540,
        "minute": "*/10",
    },
    {
        "name": "参保状态变化对账（每10分钟）",
        "task": "family.reconcile_statuses",
        "description": "R14: end relationships of people transferred out or terminated.",
        "expire_seconds": 540,
        "minute": "5-59/10",
    },
    {
        "name": "授权到期提醒（每天9:00）",
        "task": "family.send_expiry_reminders",
        "description": "Tell both sides of authorizations ending within 7 days.",
        "expire_seconds": 3600,
        "minute": "0",
        "hour": "9",
    },
]


def forwards(apps, schema_editor):
    for schedule in SCHEDULES:
        ensure_schedule(apps, **schedule)


def backwards(apps, schema_editor):
    for schedule in SCHEDULES:
        remove_schedule(apps, name=schedule["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("family", "0003_scheduled_status"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
