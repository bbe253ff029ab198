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


NAME = "站内信邮件发送（每分钟）"


def forwards(apps, schema_editor):
    ensure_schedule(
        apps,
        name=NAME,
        task="accounts.send_notification_emails",
        description="Mail pending notifications once each (issue 5).",
        expire_seconds=55,
    )


def backwards(apps, schema_editor):
    remove_schedule(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_notification"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
