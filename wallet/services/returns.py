"""R25: a transfer nobody answered goes back to its sender by 06:00 the next day. Celery beat
runs this pass every few minutes (wallet/migrations: the schedule) so it is done by 06:00 even
if one run is lost; it is set-based, a batch at a time:

- one SELECT … FOR UPDATE SKIP LOCKED takes the due pending transfers (a transfer being accepted
  or declined at that instant is skipped, and seen again next run if still pending);
- the senders' personal accounts are locked in ascending id order, then one INSERT of ledger
  transactions, one of legs and one UPDATE of balances give the money back;
- one UPDATE marks the transfers returned, one INSERT audits them, one tells both sides.

Safe to run twice or late: only pending transfers are taken, each return's ledger key is unique,
and a run after the deadline returns everything overdue."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts import notices
from accounts.models import AuditEntry, Notification
from accounts.services import notifications_send
from payments.services import ledger

from ..models import Transfer
from .transfers import _back_movement, _notice, _snapshot

BATCH_SIZE = 500


def transfers_return_due(*, at: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Return every pending transfer whose answer time has come; returns how many."""
    at = at or timezone.now()
    total = 0
    while True:
        with transaction.atomic(durable=True):
            done = _return_batch(at=at, batch_size=batch_size)
        total += done
        if done < batch_size:
            return total


def _return_batch(*, at: dt.datetime, batch_size: int) -> int:
    due = list(
        Transfer.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(status=Transfer.Status.PENDING, answer_by__lte=at)
        .select_related("sender", "wallet__person", "owing_region")
        .order_by("id")[:batch_size]
    )
    if not due:
        return 0
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
