"""R27 clearing: wallet money spent at an institution of another region makes the region that
owes it (the wallet holding's region) owe the institution's region. Settlements post that to the
clearing accounts at once (payments.services.settlement); here the positions are netted per pair
of regions into nightly batches, and confirmed by both regions.

- `clearing_run` (Celery beat, nightly): every cross-region wallet spend and refund made before
  the night's cutoff (00:00 Asia/Shanghai) and in no batch yet becomes a line of its pair's
  batch; the batch says who owes whom how much after netting. One advisory lock makes a second
  run wait and then find nothing left: safe to run twice or late.
- `clearing_confirm`: a supervisor of each side confirms; at the second confirmation the batch
  is settled: one ledger movement takes its lines' positions off both regions' clearing
  accounts (what is left on them is what no settled batch holds)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.selectors import staff_region_ids
from accounts.services.audit import audit_record
from payments.models import ZERO, LedgerAccount, LedgerTransaction
from payments.services import ledger

from ..errors import CLEARING_ALREADY_CONFIRMED, CLEARING_NOT_YOUR_REGION
from ..models import ClearingBatch, ClearingLine
from ..selectors.clearing import unbatched_movements

# pg_advisory_xact_lock key of the clearing run ("clear" in ASCII)
LOCK_KEY = 0x636C656172
Kind = LedgerAccount.Kind


def cutoff_for(at: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """(business date, cutoff): a run at any time of day D clears what happened before D 00:00
    local, as the batch of day D-1."""
    day = timezone.localtime(at).date()
    return day - dt.timedelta(days=1), timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def net_by_pair(rows: list[dict]) -> dict[tuple[int, int], Decimal]:
    """{(low id, high id): what the low region owes the high one, net} (negative: the reverse)."""
    nets: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        low, high = sorted((row["owing"], row["owed"]))
        nets[(low, high)] += row["amount"] if row["owing"] == low else -row["amount"]
    return dict(nets)


def clearing_run(*, at: dt.datetime | None = None) -> list[ClearingBatch]:
    """Net the night's cross-region wallet movements into one batch per pair of regions."""
    at = at or timezone.now()
    business_date, cutoff = cutoff_for(at)
    with transaction.atomic(durable=True):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        rows = unbatched_movements(before=cutoff)
        by_pair: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for row in rows:
            low, high = sorted((row["owing"], row["owed"]))
            by_pair[(low, high)].append(row)
        batches = []
        for (low, high), net in sorted(net_by_pair(rows).items()):
            payer, payee = (low, high) if net >= 0 else (high, low)
            pair_rows = by_pair[(low, high)]
            # a second run the same night finds only what committed since: a batch of its own
            batch = ClearingBatch.objects.create(
                business_date=business_date,
                payer_region_id=payer,
                payee_region_id=payee,
                amount=abs(net),
                lines_count=len(pair_rows),
            )
            ClearingLine.objects.bulk_create(
                [
                    ClearingLine(
                        batch=batch,
                        owing_region_id=row["owing"],
                        owed_region_id=row["owed"],
                        amount=row["amount"],
                        settlement_line_id=row.get("settlement_line_id"),
                        refund_line_id=row.get("refund_line_id"),
                        premium_line_id=row.get("premium_line_id"),
                        occurred_at=row["at"],
                    )
                    for row in pair_rows
                ]
            )
            audit_record(
                actor=None,
                channel=AuditEntry.Channel.SYSTEM,
                action="wallet.clearing_batch",
                obj=batch,
                after={
                    "business_date": batch.business_date.isoformat(),
                    "payer_region": payer,
                    "payee_region": payee,
                    "amount": f"{batch.amount:.2f}",
                    "lines": len(pair_rows),
                },
            )
            batches.append(batch)
    return batches


def clearing_confirm(
    *, batch: ClearingBatch, actor: User, side: str, at: dt.datetime | None = None
) -> ClearingBatch:
    """R27: the `side` ("payer" or "payee") region confirms the batch, by a staff member who
    serves that region. At the second confirmation the batch is settled in the ledger."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        batch = ClearingBatch.objects.select_for_update().get(pk=batch.pk)
        region_id = batch.payer_region_id if side == "payer" else batch.payee_region_id
        regions = staff_region_ids(user=actor)
        if side not in ("payer", "payee") or (regions is not None and region_id not in regions):
            raise ValidationError(CLEARING_NOT_YOUR_REGION, code="clearing_not_your_region")
        if getattr(batch, f"{side}_confirmed_at") is not None:
            raise ValidationError(CLEARING_ALREADY_CONFIRMED, code="clearing_already_confirmed")
        before = {"status": batch.status}
        setattr(batch, f"{side}_confirmed_at", at)
        setattr(batch, f"{side}_confirmed_by", actor)
        if batch.payer_confirmed_at and batch.payee_confirmed_at:
            batch.status = ClearingBatch.Status.SETTLED
            batch.ledger_transaction = _settle(batch, at)
        batch.save()
        audit_record(
            actor=actor,
            channel=AuditEntry.Channel.ADMIN,
            action=f"wallet.clearing_confirm_{side}",
            obj=batch,
            before=before,
            after={"status": batch.status, "side": side, "amount": f"{batch.amount:.2f}"},
        )
    return batch


def _settle(batch: ClearingBatch, at: dt.datetime) -> LedgerTransaction | None:
    """Take the batch's lines off both regions' clearing accounts: for each direction, its gross
    comes off the owing region's payable and the owed region's receivable."""
    gross: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for owing, owed, amount in batch.lines.values_list(
        "owing_region_id", "owed_region_id", "amount"
    ):
        gross[(owing, owed)] += amount
    legs = []
    for (owing, owed), amount in sorted(gross.items()):
        if amount == 0:
            continue
        legs += [
            (ledger.bureau_account(Kind.CLEARING_PAYABLE, owing), -amount),
            (ledger.bureau_account(Kind.CLEARING_RECEIVABLE, owed), amount),
        ]
    if not legs:
        return None
    return ledger.transaction_post(
        kind=LedgerTransaction.Kind.CLEARING,
        description=f"跨统筹区清算 {batch.business_date.isoformat()}",
        occurred_at=at,
        idempotency_key=f"clearing:{batch.public_id}",
        legs=legs,
    )
