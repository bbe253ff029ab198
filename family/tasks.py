"""Scheduled work of the family app (issue 5). Each task calls one service; the services are
set-based, guarded by the current status and take rows with SKIP LOCKED, so a task that runs
twice, or on two workers at once, changes and tells each row once: hence `acks_late`. `expires`
drops a run that waited in the queue past the next one's turn, so a backlog does not pile up."""

from celery import shared_task

from . import services


@shared_task(name="family.run_lifecycle", acks_late=True, expires=55)
def run_lifecycle() -> dict[str, int]:
    """Every minute: expire ended windows, start scheduled ones."""
    return services.lifecycle_run()


@shared_task(name="family.lapse_consents", acks_late=True, expires=540)
def lapse_consents() -> int:
    """Every 10 minutes: R8 consent requests past their deadline lapse."""
    return services.consents_lapse()


@shared_task(name="family.reconcile_statuses", acks_late=True, expires=540)
def reconcile_statuses() -> int:
    """Every 10 minutes: R14 for statuses changed outside the portal."""
    return services.statuses_reconcile()


@shared_task(name="family.send_expiry_reminders", acks_late=True, expires=3600)
def send_expiry_reminders() -> int:
    """Daily: both sides of authorizations ending within 7 days are told."""
    return services.expiry_reminders_send()
