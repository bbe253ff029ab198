"""Issue 5: the default schedules exist as django-celery-beat rows (made by migrations), each
names a registered task, runs on an Asia/Shanghai crontab and carries an expiry; the e-mail task
runs eagerly and twice without mailing twice."""

from __future__ import annotations

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from accounts import tasks as account_tasks
from accounts.models import Notification, User
from accounts.services import Notice, notifications_send
from portal.celery import app
from tests.factories import InsuredPersonFactory

pytestmark = pytest.mark.django_db

EXPECTED = {
    "accounts.send_notification_emails": ("*", "*"),
    "family.run_lifecycle": ("*", "*"),
    "family.lapse_consents": ("*/10", "*"),
    "family.reconcile_statuses": ("5-59/10", "*"),
    "family.send_expiry_reminders": ("0", "9"),
}


def test_every_default_schedule_is_a_row_on_a_shanghai_crontab():
    rows = {t.task: t for t in PeriodicTask.objects.select_related("crontab")}
    for task, (minute, hour) in EXPECTED.items():
        row = rows[task]
        assert row.enabled and not row.one_off
        assert row.clocked_id is None and row.interval_id is None
        assert (row.crontab.minute, row.crontab.hour) == (minute, hour)
        assert str(row.crontab.timezone) == "Asia/Shanghai"
        assert row.expire_seconds and row.expire_seconds > 0


def test_every_scheduled_task_is_registered_and_late_acknowledged():
    app.loader.import_default_modules()
    for row in PeriodicTask.objects.all():
        if row.task.startswith("celery."):
            continue  # celery's own backend cleanup, if present
        task = app.tasks[row.task]
        assert task.acks_late is True, row.task
        assert task.expires, row.task


def test_celery_runs_on_shanghai_time_without_results():
    assert app.conf.timezone == "Asia/Shanghai"
    assert app.conf.task_ignore_result is True
    assert app.conf.broker_url.startswith("redis://")


def test_the_mail_task_runs_eagerly_and_a_rerun_mails_nobody_twice():
    person = InsuredPersonFactory()
    person.user = User.objects.create_user(username="mailtest", email="someone@example.org")
    person.save(update_fields=["user"])
    notifications_send(
        notices=[
            Notice(
                recipient_id=person.pk,
                kind=Notification.Kind.EXPIRED,
                key="test:once",
                params={"role": "member", "holder": "王*国", "end": ""},
            )
        ]
    )
    assert account_tasks.send_notification_emails.delay().get() == 1
    assert account_tasks.send_notification_emails.delay().get() == 0
    assert len(mail.outbox) == 1
    # The same key again is not a second notification.
    notifications_send(
        notices=[Notice(recipient_id=person.pk, kind="expired", key="test:once", params={})]
    )
    assert Notification.objects.filter(recipient=person).count() == 1
