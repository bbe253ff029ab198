from django.db import migrations

from accounts.schedules import ensure_schedule, remove_schedule

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
