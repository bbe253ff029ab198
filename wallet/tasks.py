"""Celery tasks of the wallet app; beat's schedule is data (migration 0004), editable in the
admin."""

from __future__ import annotations

from celery import shared_task

from . import services
from .services import transfers_return_due

RETURN_DUE_TASK = "wallet.return_due_transfers"


@shared_task(name=RETURN_DUE_TASK, acks_late=True, expires=240)
def return_due_transfers() -> int:
    """R25: give back every transfer nobody answered by its time (set-based, idempotent)."""
    return transfers_return_due()


CLEARING_RUN_TASK = "wallet.clearing_run"


@shared_task(name=CLEARING_RUN_TASK, acks_late=True, expires=3600)
def clearing_run() -> int:
    """R27: net yesterday's cross-region wallet movements into batches per pair of regions."""
    return len(services.clearing_run())
