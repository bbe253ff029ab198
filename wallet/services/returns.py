"""R25: a transfer nobody answered goes back to its sender by 06:00 the next day. Celery beat
runs this pass every few minutes (wallet/migrations: the schedule) so it is done by 06:00 even
if one run is lost; it is set-based, a batch at a time, each in its own transaction:

- one SELECT … FOR UPDATE SKIP LOCKED takes the due pending transfers (a transfer being accepted
  or declined at that instant is skipped, and seen again next run if still pending);
- one more locks the senders' personal accounts in ascending id order;
- on PostgreSQL one statement then gives the money back, marks the transfers returned, audits and
  tells both sides (`returns_sql`); elsewhere (the SQLite file of `make run`) the ORM writes the
  same rows in a few statements a batch (`_write_orm`);
- one mail sweep is asked for per pass, not per batch.

Safe to run twice or late: only pending transfers are taken, each return's ledger key is unique,
and a run after the deadline returns everything overdue."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from accounts import notices
from accounts.models import AuditEntry, Notification
from accounts.services import notification_emails_enqueue, notifications_send
from accounts.services.parallel import in_parallel
from payments.models import LedgerAccount
from payments.services import ledger

from ..models import Transfer
from . import returns_sql
from .transfers import _back_movement, _notice, _snapshot

Kind = LedgerAccount.Kind

# a batch of the SQL writer is one statement whatever its size (10,000 as the authorization
# passes); the ORM writer builds objects for each row
BATCH_SIZE = 10_000
ORM_BATCH_SIZE = 500
PARALLEL = 2


def transfers_return_due(*, at: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Return every pending transfer whose answer time has come; returns how many. On
    PostgreSQL outside a transaction (the worker's task), batches go to two connections at
    once (`accounts.services.parallel`): SKIP LOCKED gives them disjoint transfers, so disjoint
    senders' accounts (one pending transfer per sender), and nothing else is locked."""
    at = at or timezone.now()
    in_sql = connection.vendor == "postgresql"
    size = batch_size or (BATCH_SIZE if in_sql else ORM_BATCH_SIZE)
    in_flight: dict[int, int] = {}  # owing region id -> its in-flight account id, for the pass

    def work() -> int:
        done_here = 0
        while True:
            with transaction.atomic(durable=True):
                done = _return_batch(at=at, size=size, in_sql=in_sql, in_flight=in_flight)
            done_here += done
            if done < size:
                return done_here

    total = in_parallel(work, workers=PARALLEL if in_sql else 1)
    if in_sql and total:
        notification_emails_enqueue()  # once for the pass
    return total


def _return_batch(*, at: dt.datetime, size: int, in_sql: bool, in_flight: dict) -> int:
    due = list(
        Transfer.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(status=Transfer.Status.PENDING, answer_by__lte=at)
        .order_by("id")
        .values_list("id", "sender_account_id", "owing_region_id")[:size]
    )
    if not due:
        return 0
    for region_id in {region_id for _id, _account, region_id in due} - in_flight.keys():
        in_flight[region_id] = ledger.bureau_account(Kind.WALLET_IN_FLIGHT, region_id).pk
    ids = [transfer_id for transfer_id, _account, _region in due]
    if in_sql:
        _lock_accounts(sorted({account for _id, account, _region in due}))
        return returns_sql.transfers_return(ids, at=at, in_flight=in_flight)
    return _write_orm(ids, at=at)


def _lock_accounts(ids: list[int]) -> None:
    """The senders' accounts, locked in ascending id order (`ledger.accounts_lock`, without
    reading the rows into Python)."""
    list(
        LedgerAccount.objects.select_for_update(no_key=True)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _write_orm(ids: list[int], *, at: dt.datetime) -> int:
    due = list(
        Transfer.objects.filter(pk__in=ids)
        .select_related("sender", "wallet__person", "owing_region")
        .order_by("id")
    )
    accounts = ledger.accounts_lock(t.sender_account_id for t in due)
    entries = ledger.transactions_post_many(
        [
            ledger.Movement(**_back_movement(t, accounts[t.sender_account_id], "return", at))
            for t in due
        ]
    )
    befores = [_snapshot(t) for t in due]
    for transfer, entry in zip(due, entries, strict=True):
        transfer.status = Transfer.Status.RETURNED
        transfer.finished_at = at
        transfer.finish_transaction = entry
    Transfer.objects.bulk_update(due, ["status", "finished_at", "finish_transaction"])
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                actor=None,
                channel=AuditEntry.Channel.SYSTEM,
                action="wallet.transfer_returned",
                object_type=Transfer._meta.label_lower,
                object_id=str(t.public_id),
                person=t.wallet.person,
                before=before,
                after=_snapshot(t),
            )
            for t, before in zip(due, befores, strict=True)
        ]
    )
    kind = Notification.Kind.TRANSFER_RETURNED
    notifications_send(
        notices=[
            notice
            for t in due
            for notice in (
                _notice(t, kind, role=notices.HOLDER),
                _notice(t, kind, role=notices.MEMBER),
            )
        ],
        at=at,
    )
    return len(due)
