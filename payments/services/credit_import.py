"""A CSV file of monthly credits (划入) imported in short transactions (issue 13 points 5 and 6).

1. `credits_import_csv` checks the whole file (`credits.credits_csv_check`: one bad row and
   nothing is staged), then, in one short transaction that locks no personal account, records
   the batch and every row `pending` and audits the upload. The rows' unique constraint (person,
   month, source) refuses a second file of the same credits even when two uploads race; the
   loser is told which lines, as if it had come second. After commit, the worker is asked to
   post (`payments.post_credit_batch`); the command posts at once instead.
2. `credit_batch_post` posts the pending rows, `CHUNK_ROWS` per transaction: each chunk takes its
   rows with SKIP LOCKED (two posters of one batch never take the same row), locks only its own
   accounts (ascending id, `ledger.accounts_lock`), posts one ledger transaction per row through
   `ledger.transaction_post`, marks the rows posted with their transaction and adds them to the
   batch's progress, all in that one transaction. The chunk that posts the last row marks the
   batch done and audits it. A settlement on a credited account waits at most one chunk.
3. `credit_batches_resume` (beat, every minute) posts whatever a dead worker, or a broker that
   was down when the upload committed, left pending.

Lock order everywhere: credit rows (SKIP LOCKED, never waited for), personal accounts in ascending
id order (as settlements), then the batch row; the staging inserts its rows sorted by (person,
month) so two racing uploads meet on the unique index in the same order and cannot deadlock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEntry, User
from accounts.services import audit_record

from ..models import CreditImport, CreditRow, CreditSource, LedgerAccount, LedgerTransaction
from . import ledger
from .credits import (
    CheckedFile,
    CreditImportRefused,
    CsvRowError,
    credited_before,
    credits_csv_check,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# gettext of a lazy constant: its text in the active language (the stubs' gettext takes a str)
_g = cast("Callable[[StrOrPromise], str]", gettext)

CHUNK_ROWS = 200
# The worker's task that posts a staged batch (payments.tasks registers it under this name).
POST_CREDIT_BATCH_TASK = "payments.post_credit_batch"
# DEBUG: the time of the check, of the staging transaction and of each chunk's transaction (the
# longest any account is locked by an import); bench/credits.py reads them from the worker's log.
logger = logging.getLogger("payments.credits")
ONE_CREDIT_CONSTRAINT = "creditrow_one_credit_per_person_month_and_source"
CSV_CREDITED_MEANWHILE = _("文件中的部分行刚由同时上传的另一文件入账，本文件未导入")

# What the ledger keeps (in Chinese whatever the uploader's page language: a record, like the
# letters) and which bureau account pays, per source.
DESCRIPTIONS: dict[str, str] = {
    CreditSource.EMPLOYER: "单位缴费划入",
    CreditSource.RETIREE_FIXED: "退休人员定额划入",
}
BUREAU_ACCOUNTS: dict[str, str] = {
    CreditSource.EMPLOYER: LedgerAccount.Kind.EMPLOYER_CREDITS,
    CreditSource.RETIREE_FIXED: LedgerAccount.Kind.RETIREE_CREDITS,
}

# Test hooks, like settlement.fault_after_first_line: called between the check and the staging
# transaction, and after each committed chunk with (batch, chunks posted so far by this call).
before_stage_hook: Callable[[], None] | None = None
after_chunk_hook: Callable[[CreditImport, int], None] | None = None


def credits_import_csv(
    *,
    data: bytes,
    file_name: str,
    actor: User | None,
    source: str = CreditSource.EMPLOYER,
    regions: frozenset[int] | None = None,
    background: bool = True,
) -> CreditImport:
    """Check the whole file and stage it: the batch and its rows, pending. `background`: the
    worker posts it after commit (the admin's upload; the beat job catches up if the broker is
    down); False: posted here, chunk by chunk, before returning (the command). Refused files
    raise `CreditImportRefused` and change nothing."""
    started = time.monotonic()
    checked = credits_csv_check(data=data, source=source, regions=regions)
    logger.debug("credit file checked: %d rows in %.3f s", len(checked.rows), _since(started))
    if before_stage_hook is not None:
        before_stage_hook()
    try:
        started = time.monotonic()
        batch = _stage(checked, file_name=file_name, actor=actor, background=background)
        logger.debug("credit batch %s staged in %.3f s", batch.pk, _since(started))
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != (
            ONE_CREDIT_CONSTRAINT
        ):
            raise
        # Another upload of the same credits committed first (its rows are visible now that
        # ours waited for it on the unique index): name the lines, as the check would have.
        errors = credited_before(rows=checked.rows, source=source)
        raise CreditImportRefused(errors or [CsvRowError(0, _g(CSV_CREDITED_MEANWHILE))]) from None
    if not background:
        credit_batch_post(batch=batch)
        batch.refresh_from_db()
    return batch


def _stage(checked: CheckedFile, *, file_name: str, actor: User | None, background: bool):
    rows = sorted(checked.rows, key=lambda r: (r.person.pk, r.month))
    persons = list({row.person.pk: row.person for row in rows}.values())
    with transaction.atomic(durable=True):
        # Opens the accounts of people credited for the first time (new rows; nobody's
        # balance is locked). The rows below reference the accounts with FOR KEY SHARE, which
        # does not conflict with the ledger's FOR NO KEY UPDATE.
        accounts = ledger.personal_account_ids_for(persons)
        batch = CreditImport.objects.create(
            file_name=file_name[:200],
            file_sha256=checked.sha256,
            source=checked.source,
            rows=len(rows),
            total=checked.total,
            imported_by=actor if actor is not None and actor.is_authenticated else None,
        )
        CreditRow.objects.bulk_create(
            [
                CreditRow(
                    batch=batch,
                    line=row.line,
                    person=row.person,
                    account_id=accounts[row.person.pk],
                    month=row.month,
                    source=checked.source,
                    amount=row.amount,
                )
                for row in rows
            ],
            batch_size=2000,
        )
        audit_record(
            actor=actor,
            channel=AuditEntry.Channel.ADMIN,
            action="account.credit_import",
            obj=batch,
            after={
                "file": batch.file_name,
                "source": batch.source,
                "rows": batch.rows,
                "total": str(batch.total),
            },
        )
        if background:
            # By name: tasks import services, never the reverse (PaymentsConfig.ready registers it).
            current_app.tasks[POST_CREDIT_BATCH_TASK].delay_on_commit(batch.pk)
    return batch


def credit_batch_post(*, batch: CreditImport, chunk_rows: int | None = None) -> int:
    """Post the batch's pending rows, `chunk_rows` (default `CHUNK_ROWS`) per transaction;
    returns how many this call posted. Safe to run twice or at once on two workers (rows are
    taken with SKIP LOCKED and a posted row is never pending again); a run that dies mid-way
    leaves whole chunks posted and the rest pending for the next run."""
    CreditImport.objects.filter(pk=batch.pk, status=CreditImport.Status.QUEUED).update(
        status=CreditImport.Status.POSTING, started_at=timezone.now()
    )
    limit = chunk_rows or CHUNK_ROWS
    posted = chunks = 0
    while True:
        started = time.monotonic()
        count = _chunk_post(batch_id=batch.pk, limit=limit)
        if not count:
            break
        logger.debug(
            "credit batch %s chunk: %d rows in %.3f s (one transaction)",
            batch.pk,
            count,
            _since(started),
        )
        posted += count
        chunks += 1
        if after_chunk_hook is not None:
            after_chunk_hook(batch, chunks)
    return posted


def _chunk_post(*, batch_id: int, limit: int) -> int:
    with transaction.atomic(durable=True):
        rows = list(
            CreditRow.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
            .filter(batch_id=batch_id, status=CreditRow.Status.PENDING)
            .order_by("pk")[:limit]
        )
        if not rows:
            return 0
        locked = ledger.accounts_lock(row.account_id for row in rows)
        at = timezone.now()
        bureau: dict[tuple[str, int], LedgerAccount] = {}
        for row in rows:
            account = locked[row.account_id]
            # a personal account has a person (ledgeraccount_person_and_balance_iff_personal)
            assert account.person is not None
            key = (row.source, account.person.region_id)
            if key not in bureau:
                bureau[key] = ledger.bureau_account(BUREAU_ACCOUNTS[row.source], key[1])
            row.ledger_transaction = ledger.transaction_post(
                kind=LedgerTransaction.Kind.CREDIT,
                description=f"{row.month:%Y-%m} {DESCRIPTIONS[row.source]}",
                occurred_at=at,
                # One ledger credit per person, month and source: the ledger's own unique key
                # says it again.
                idempotency_key=f"credit:{row.source}:{row.month:%Y-%m}:{row.person_id}",
                legs=[(bureau[key], -row.amount), (account, row.amount)],
            )
            row.status = CreditRow.Status.POSTED
            row.posted_at = at
        CreditRow.objects.bulk_update(rows, ["status", "ledger_transaction", "posted_at"])
        batch = CreditImport.objects.select_for_update(no_key=True).get(pk=batch_id)
        batch.rows_posted += len(rows)
        fields = ["rows_posted"]
        if batch.rows_posted == batch.rows:
            batch.status = CreditImport.Status.DONE
            batch.finished_at = at
            fields += ["status", "finished_at"]
            audit_record(
                actor=None,
                channel=AuditEntry.Channel.SYSTEM,
                action="account.credit_import_done",
                obj=batch,
                after={"file": batch.file_name, "rows": batch.rows, "total": str(batch.total)},
            )
        batch.save(update_fields=fields)
    return len(rows)


def _since(started: float) -> float:
    return time.monotonic() - started


def credit_batches_resume() -> dict[str, int]:
    """Post every batch that is not done, oldest first (beat: what a dead worker or an
    unreachable broker left). Returns the batches looked at and the rows posted."""
    batches = list(CreditImport.objects.exclude(status=CreditImport.Status.DONE).order_by("pk"))
    posted = sum(credit_batch_post(batch=batch) for batch in batches)
    return {"batches": len(batches), "rows": posted}
