"""Scheduled lifecycle of authorizations (issue 5): expiry, activation, consent lapse (R8), the
R14 status reconciliation and expiry reminders. Called by `family.tasks`.

Every pass is set-based and batched: a batch of ids is taken with
`FOR NO KEY UPDATE SKIP LOCKED` (keyset pages by id), then one SQL statement changes them with a
guarded UPDATE (the WHERE repeats the statuses it expects) and, from what that UPDATE returns,
inserts their audit entries and their notifications (ON CONFLICT DO NOTHING): see
`lifecycle_sql`. On another database (the SQLite file of `make run`) the same writes go through
the ORM: `lifecycle_orm`. No row is read into Python; memory holds one batch of ids, whatever
the table's size, and one mail sweep is asked for per pass. Two runs at once take disjoint
batches (a row locked by one is skipped by the other), and a second run finds nothing left to do,
so the tasks are idempotent and safe to acknowledge late.

Correctness at use time never waits for these passes: `authorizations_usable_for` reads the
window and both people's statuses at the instant of use."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Notification
from accounts.services import notification_emails_enqueue
from accounts.services.parallel import in_parallel

from ..errors import STATUS_ENDED_NOTE
from ..models import Authorization, Relationship
from . import lifecycle_orm, lifecycle_sql, notify
from .status import ENDING_STATUSES

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

Status = Authorization.Status
Kind = Notification.Kind
BATCH_SIZE = 10_000
# Connections a pass works on at once when it runs outside a transaction (a worker's task):
# `accounts.services.parallel` says why.
PARALLEL = 2

EXPIRED_NOTE = _("授权期限届满")


def _writer():
    """Who writes a batch: set-based SQL on PostgreSQL, the ORM elsewhere (`lifecycle_orm`)."""
    return lifecycle_sql if connection.vendor == "postgresql" else lifecycle_orm


class _Pages:
    """Keyset pages of `candidates`' ids, handed out one at a time to whichever connection asks
    (one lock: the next page starts where the last one handed out ended)."""

    def __init__(self, candidates: QuerySet[Authorization], batch_size: int) -> None:
        self.candidates, self.batch_size, self.last = candidates, batch_size, 0
        self.lock = threading.Lock()

    def next(self) -> list[int]:
        """Lock the next page's rows in the caller's transaction and return their ids."""
        with self.lock:
            # Keyset pages by id, ids alone (no join to the people): every batch starts where
            # the last one ended instead of walking again past the rows earlier batches changed
            # (bench/expiry.py, finding 1). A row skipped because another worker holds it is
            # that worker's; SKIP LOCKED never waits, so lock order does not matter here.
            ids = list(
                self.candidates.filter(pk__gt=self.last)
                .select_for_update(no_key=True, skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list("pk", flat=True)[: self.batch_size]
            )
            if ids:
                self.last = ids[-1]
            return ids


def _transition(
    *,
    candidates: QuerySet[Authorization],
    expected: Iterable[str],
    to: str,
    action: str,
    at: dt.datetime,
    note: StrOrPromise = "",
    tell: notify.Tell,
    batch_size: int,
    end_relationships: bool,
) -> int:
    """Move every authorization of `candidates` (in an `expected` status) to status `to`, ending
    it with `note` when `to` is not a live status, batch by batch: the ids locked by one
    statement, then moved, audited and told by one more (`lifecycle_sql.authorizations_move`),
    then the relationships they leave empty ended. PARALLEL connections take batches at once.

    Two batches at once cannot deadlock: each holds only its own authorizations, and takes the
    relationships it may end afterwards, in ascending id order, looking only once it holds
    them; a relationship whose members two batches expire is ended by whichever locks it
    last (it then sees the other's committed rows)."""
    pages = _Pages(candidates, batch_size)
    expected = [str(status) for status in expected]
    ending_note = None if to in Authorization.LIVE_STATUSES else str(note)

    def work() -> int:
        moved_here = 0
        while True:
            with transaction.atomic():
                ids = pages.next()
                if not ids:
                    return moved_here
                # Guarded: only rows still in a status the candidates allow move (they are
                # locked, so all do).
                moved, relationship_ids = _writer().authorizations_move(
                    ids, expected=expected, to=to, at=at, note=ending_note, action=action, tell=tell
                )
                assert moved == len(ids), (moved, len(ids))
                if end_relationships:
                    _end_empty_relationships(set(relationship_ids), at=at)
            moved_here += moved

    total = in_parallel(work, workers=PARALLEL)
    if total:
        notification_emails_enqueue()
    return total


def _end_empty_relationships(relationship_ids: set[int], *, at: dt.datetime) -> int:
    """Relationships left with no live member end (R5: the holder is then free to join another),
    and those whose holder was transferred out or terminated end for that reason (R14). Lock
    first, then look: a member bound meanwhile (a bind locks the relationship too) is seen.

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
    return _writer().relationships_end(locked, at=at, holder_gone=ENDING_STATUSES)


def authorizations_expire(*, at: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Authorizations whose window ended (the end instant itself is still usable) expire."""
    at = at or timezone.now()
    return _transition(
        candidates=Authorization.objects.filter(
            status__in=Authorization.GRANTED_STATUSES, window_end__lt=at
        ),
        expected=Authorization.GRANTED_STATUSES,
        to=Status.EXPIRED,
        action="authorization.expire",
        at=at,
        note=EXPIRED_NOTE,
        tell=notify.Tell(Kind.EXPIRED, "expired"),
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
        expected=[Status.SCHEDULED],
        to=Status.ACTIVE,
        action="authorization.start",
        at=at,
        tell=notify.Tell(Kind.STARTED, "started"),
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
        expected=[Status.PENDING_CONSENT],
        to=Status.LAPSED,
        action="authorization.lapse",
        at=at,
        tell=notify.Tell(Kind.ENDED, "ended", reason=Status.LAPSED.label),
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
        expected=Authorization.LIVE_STATUSES,
        to=Status.TERMINATED,
        action="authorization.terminate",
        at=at,
        note=STATUS_ENDED_NOTE,
        tell=notify.Tell(Kind.ENDED, "ended", reason=Status.TERMINATED.label),
        batch_size=batch_size,
        end_relationships=True,
    )
    last = 0
    while True:  # relationships of such holders that had no live member left to end them
        with transaction.atomic():
            ids = list(
                Relationship.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
                .filter(
                    pk__gt=last,
                    status=Relationship.Status.ACTIVE,
                    holder__status__in=ENDING_STATUSES,
                )
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            _writer().relationships_end(ids, at=at, holder_gone=ENDING_STATUSES)
            last = ids[-1]
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
    while True:  # keyset pages: memory holds one page of ids
        ids = list(
            candidates.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            _writer().authorizations_tell(ids, at=at, tell=notify.Tell(Kind.EXPIRING, None))
        told += len(ids)
        last = ids[-1]
    if told:
        notification_emails_enqueue()
    return told


def lifecycle_run(*, at: dt.datetime | None = None) -> dict[str, int]:
    """The every-minute pass: expire first (a scheduled row already past its end expires rather
    than starting), then start what is due."""
    at = at or timezone.now()
    return {
        "expired": authorizations_expire(at=at),
        "started": authorizations_activate(at=at),
    }
