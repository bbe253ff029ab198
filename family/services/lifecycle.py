"""Scheduled lifecycle of authorizations (issue 5): expiry, activation, consent lapse (R8), the
R14 status reconciliation and expiry reminders. Called by `family.tasks`.

Every pass is set-based and batched: a batch of ids is taken with
`FOR NO KEY UPDATE SKIP LOCKED`, changed with one guarded UPDATE (the WHERE repeats the status it
expects), audited with one bulk INSERT and told with one bulk INSERT of notifications (ON CONFLICT
DO NOTHING). Memory holds one batch, whatever the table's size. Two runs at once take disjoint
batches (a row locked by one is skipped by the other), and a second run finds nothing left to do,
so the tasks are idempotent and safe to acknowledge late.

Correctness at use time never waits for these passes: `authorizations_usable_for` reads the
window and both people's statuses at the instant of use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEntry, Notification
from accounts.services import Notice, notifications_send, snapshot_values

from ..errors import STATUS_ENDED_NOTE
from ..models import Authorization, Relationship
from . import notify
from .status import ENDING_STATUSES

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

Status = Authorization.Status
Kind = Notification.Kind
SYSTEM = AuditEntry.Channel.SYSTEM
BATCH_SIZE = 2000

EXPIRED_NOTE = _("授权期限届满")

_AUTH_FIELDS = [f.attname for f in Authorization._meta.concrete_fields]
_REL_FIELDS = [f.attname for f in Relationship._meta.concrete_fields]


def _audit_rows(model, rows: list[dict], changes: dict, *, action: str, person_key: str | None):
    """One audit entry per changed row, before and after (R20), in one INSERT."""
    label = model._meta.label_lower
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                actor=None,
                channel=SYSTEM,
                action=action,
                object_type=label,
                object_id=str(row["public_id"]),
                person_id=row[person_key] if person_key else None,
                before=snapshot_values(model, row),
                after=snapshot_values(model, {**row, **changes}),
            )
            for row in rows
        ],
        batch_size=BATCH_SIZE,
    )


def _transition(
    *,
    candidates: QuerySet[Authorization],
    to: str,
    action: str,
    at: dt.datetime,
    note: StrOrPromise = "",
    tell: Callable[[dict], list[Notice]],
    batch_size: int,
    end_relationships: bool,
) -> int:
    """Move every authorization of `candidates` to status `to`, batch by batch."""
    ending = to not in Authorization.LIVE_STATUSES
    changes: dict = {"status": to}
    if ending:
        changes.update(ended_at=at, end_note=str(note)[:200], deduction_position=None)
    total, last = 0, 0
    while True:
        with transaction.atomic():
            # Keyset pages by id, ids alone (no join to the people): every batch starts where
            # the last one ended instead of walking again past the rows earlier batches changed
            # (bench/expiry.py: ordered from the start, or joined to the people, a 1,000,000-row
            # pass made 279 index fetches per row). With little due, PostgreSQL reads the
            # (status, window_end) index and sorts; with a backlog, the primary key from `last`.
            # A row skipped because another worker holds it is that worker's; SKIP LOCKED never
            # waits, so lock order does not matter here.
            ids = list(
                candidates.filter(pk__gt=last)
                .select_for_update(no_key=True, skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return total
            rows = list(
                Authorization.objects.filter(pk__in=ids)
                .order_by()
                .values(*_AUTH_FIELDS, *notify.PERSON_NAME_FIELDS)
            )
            # Guarded: only rows still in the status we read move (they are locked, so all do).
            changed = Authorization.objects.filter(
                pk__in=ids, status__in={row["status"] for row in rows}
            ).update(**changes)
            assert changed == len(rows), (changed, len(rows))
            _audit_rows(Authorization, rows, changes, action=action, person_key="member_id")
            notifications_send(notices=[n for row in rows for n in tell(row)], at=at)
            if end_relationships:
                _end_empty_relationships({row["relationship_id"] for row in rows}, at=at)
            total += len(rows)
            last = ids[-1]


def _end_relationships(
    relationships: QuerySet[Relationship], *, reason: str, at: dt.datetime
) -> int:
    """End (and audit) the given active relationships; they must already be locked by us."""
    rows = list(relationships.order_by("pk").values(*_REL_FIELDS))
    if not rows:
        return 0
    changes = {"status": Relationship.Status.ENDED, "ended_at": at, "end_reason": reason}
    Relationship.objects.filter(
        pk__in=[row["id"] for row in rows], status=Relationship.Status.ACTIVE
    ).update(**changes)
    _audit_rows(Relationship, rows, changes, action="relationship.end", person_key="holder_id")
    return len(rows)


def _end_empty_relationships(relationship_ids: set[int], *, at: dt.datetime) -> int:
    """Relationships left with no live member end (R5: the holder is then free to join another).
    Lock first, then look: a member bound meanwhile (a bind locks the relationship too) is seen.

    Every path locks authorizations before their relationship (`relationship_end` included), and
    these passes lock relationships in ascending id order, so waiting here cannot deadlock."""
    locked = list(
        Relationship.objects.select_for_update(no_key=True)
        .filter(pk__in=relationship_ids, status=Relationship.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not locked:
        return 0
    # R14: a holder transferred out or terminated ends their relationship for that reason.
    holder_gone = set(
        Relationship.objects.filter(pk__in=locked, holder__status__in=ENDING_STATUSES).values_list(
            "pk", flat=True
        )
    )
    still_live = Authorization.objects.filter(
        relationship_id__in=locked, status__in=Authorization.LIVE_STATUSES
    ).values_list("relationship_id", flat=True)
    empty = set(locked) - set(still_live) - holder_gone
    return _end_relationships(
        Relationship.objects.filter(pk__in=holder_gone),
        reason=Relationship.EndReason.HOLDER_STATUS,
        at=at,
    ) + _end_relationships(
        Relationship.objects.filter(pk__in=empty), reason=Relationship.EndReason.NO_MEMBERS, at=at
    )


def authorizations_expire(*, at: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Authorizations whose window ended (the end instant itself is still usable) expire."""
    at = at or timezone.now()
    return _transition(
        candidates=Authorization.objects.filter(
            status__in=Authorization.GRANTED_STATUSES, window_end__lt=at
        ),
        to=Status.EXPIRED,
        action="authorization.expire",
        at=at,
        note=EXPIRED_NOTE,
        tell=lambda row: notify.for_row(row, kind=Kind.EXPIRED, event="expired"),
        batch_size=batch_size,
        end_relationships=True,
    )


def authorizations_activate(*, at: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Scheduled authorizations whose start came become active (consent-pending ones wait for
    their answer; expired windows are left to `authorizations_expire`)."""
    at = at or timezone.now()
    return _transition(
        candidates=Authorization.objects.filter(
            Q(window_end__isnull=True) | Q(window_end__gte=at),
            status=Status.SCHEDULED,
            window_start__lte=at,
        ),
        to=Status.ACTIVE,
        action="authorization.start",
        at=at,
        tell=lambda row: notify.for_row(row, kind=Kind.STARTED, event="started"),
        batch_size=batch_size,
        end_relationships=False,
    )


def consents_lapse(*, at: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """R8: requests unanswered by their deadline lapse; both sides are told."""
    at = at or timezone.now()
    return _transition(
        candidates=Authorization.objects.filter(
            status=Status.PENDING_CONSENT, consent_deadline__lt=at
        ),
        to=Status.LAPSED,
        action="authorization.lapse",
        at=at,
        tell=lambda row: notify.for_row(
            row, kind=Kind.ENDED, event="ended", reason=Status.LAPSED.label
        ),
        batch_size=batch_size,
        end_relationships=True,
    )


def statuses_reconcile(*, at: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """R14, for statuses changed outside the portal (bulk import, SQL): live authorizations of
    people transferred out or terminated end, and so do the relationships such people hold.
    `person_status_change` does the same at once for changes made through the portal."""
    at = at or timezone.now()
    ended = _transition(
        candidates=Authorization.objects.filter(
            Q(holder__status__in=ENDING_STATUSES) | Q(member__status__in=ENDING_STATUSES),
            status__in=Authorization.LIVE_STATUSES,
        ),
        to=Status.TERMINATED,
        action="authorization.terminate",
        at=at,
        note=STATUS_ENDED_NOTE,
        tell=lambda row: notify.for_row(
            row, kind=Kind.ENDED, event="ended", reason=Status.TERMINATED.label
        ),
        batch_size=batch_size,
        end_relationships=True,
    )
    while True:  # relationships of such holders that had no live member left to end them
        with transaction.atomic():
            batch = (
                Relationship.objects.select_for_update(no_key=True, skip_locked=True)
                .filter(status=Relationship.Status.ACTIVE, holder__status__in=ENDING_STATUSES)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            ids = list(batch)
            if not ids:
                break
            _end_relationships(
                Relationship.objects.filter(pk__in=ids),
                reason=Relationship.EndReason.HOLDER_STATUS,
                at=at,
            )
    relationships_orphaned_end(at=at, batch_size=batch_size)
    return ended


def relationships_orphaned_end(
    *, at: dt.datetime | None = None, batch_size: int = BATCH_SIZE
) -> int:
    """Active relationships with no live member end (NO_MEMBERS): what a change made outside
    the portal (SQL on authorizations) left behind."""
    at = at or timezone.now()
    total = 0
    live = Authorization.objects.filter(
        relationship=OuterRef("pk"), status__in=Authorization.LIVE_STATUSES
    )
    while True:
        with transaction.atomic():
            ids = list(
                Relationship.objects.select_for_update(no_key=True, skip_locked=True)
                .filter(~Exists(live), status=Relationship.Status.ACTIVE)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return total
            ended = _end_empty_relationships(set(ids), at=at)
            if not ended:  # nothing this pass can end (cannot happen while we hold the locks)
                return total
            total += ended


def expiry_reminders_send(
    *, at: dt.datetime | None = None, days: int = 7, batch_size: int = BATCH_SIZE
) -> int:
    """Tell both sides of every granted authorization whose window ends within `days`. Nothing
    changes state; the notifications' keys name the end they warn about, so a rerun (or a
    second worker) tells nobody twice and a changed window gets a new reminder."""
    at = at or timezone.now()
    candidates = Authorization.objects.filter(
        status__in=Authorization.GRANTED_STATUSES,
        window_end__gte=at,
        window_end__lte=at + dt.timedelta(days=days),
    )
    told, last = 0, 0
    while True:  # keyset pages: memory holds one page
        rows = list(
            candidates.filter(pk__gt=last)
            .order_by("pk")
            .values(*_AUTH_FIELDS, *notify.PERSON_NAME_FIELDS)[:batch_size]
        )
        if not rows:
            return told
        with transaction.atomic():
            notifications_send(
                notices=[
                    n
                    for row in rows
                    for n in notify.for_row(
                        row, kind=Kind.EXPIRING, event=notify.expiring_event(row["window_end"])
                    )
                ],
                at=at,
            )
        told += len(rows)
        last = rows[-1]["id"]


def lifecycle_run(*, at: dt.datetime | None = None) -> dict[str, int]:
    """The every-minute pass: expire first (a scheduled row already past its end expires rather
    than starting), then start what is due."""
    at = at or timezone.now()
    return {
        "expired": authorizations_expire(at=at),
        "started": authorizations_activate(at=at),
    }
