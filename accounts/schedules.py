"""Default schedules (django-celery-beat rows) for data migrations: each app's migration creates
its own tasks' rows; staff may then edit times or disable them in the admin. Re-running keeps
whatever staff changed (get_or_create by name). In the lowest app, so that every app's migrations
may import it (apps never import `portal`); it works on the historical models `apps` gives."""

from __future__ import annotations

from django.utils import timezone

TIMEZONE = "Asia/Shanghai"


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
        timezone=TIMEZONE,
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
