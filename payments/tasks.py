"""Scheduled and on-commit work of the payments app (issues 5 and 13). Each task calls one
service and nothing else.

`acks_late`: a worker lost mid-run leaves the message to be delivered again. For the
reconciliation a rerun only adds another run record (the check never changes a balance), and two
at once are kept apart by the service's advisory lock. Posting a credit batch takes its rows
with SKIP LOCKED and never posts a row twice, so a redelivered or concurrent run only posts what
is still pending. `expires` drops a run that waited in the queue past its turn."""

from celery import shared_task

from . import services
from .models import CreditImport
from .services.credit_import import POST_CREDIT_BATCH_TASK


@shared_task(name="payments.reconcile_ledger", acks_late=True, expires=3600)
def reconcile_ledger() -> dict | None:
    """Nightly (02:30 Asia/Shanghai): every personal account's balance against its legs."""
    run = services.ledger_reconcile()
    if run is None:
        return None  # another run held the lock
    return {"run": run.pk, "ok": run.ok, "mismatches": run.mismatch_count}


@shared_task(name=POST_CREDIT_BATCH_TASK, acks_late=True)
def post_credit_batch(batch_id: int) -> int:
    """After an upload commits: post the batch's rows in chunks."""
    batch = CreditImport.objects.filter(pk=batch_id).first()
    if batch is None:
        return 0
    return services.credit_batch_post(batch=batch)


@shared_task(name="payments.resume_credit_batches", acks_late=True, expires=55)
def resume_credit_batches() -> dict[str, int]:
    """Every minute: batches a dead worker or an unreachable broker left unfinished."""
    return services.credit_batches_resume()
