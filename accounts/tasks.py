"""Periodic and on-commit work of the accounts app. A task calls one service; no logic here."""

from celery import shared_task

from . import services


# Idempotent (rows are claimed under SKIP LOCKED and never mailed twice), hence acks_late.
@shared_task(name=services.SEND_NOTIFICATION_EMAILS_TASK, acks_late=True, expires=300)
def send_notification_emails() -> int:
    return services.notification_emails_send()
