"""Default schedules of the family tasks (issue 5), editable in the admin (周期任务)."""

from django.db import migrations

from accounts.schedules import ensure_schedule, remove_schedule

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
