"""Scheduled work of the payments app (issue 5). Each task calls one service and nothing else.

`acks_late`: a worker lost mid-run leaves the message to be delivered again; a rerun only adds
another run record (the check never changes a balance), and two at once are kept apart by the
service's advisory lock. `expires` drops a run that waited in the queue past its night."""

from celery import shared_task

from . import services


@shared_task(name="payments.reconcile_ledger", acks_late=True, expires=3600)
def reconcile_ledger() -> dict | None:
    """Nightly (02:30 Asia/Shanghai): every personal account's balance against its legs."""
    run = services.ledger_reconcile()
    if run is None:
        return None  # another run held the lock
    return {"run": run.pk, "ok": run.ok, "mismatches": run.mismatch_count}
