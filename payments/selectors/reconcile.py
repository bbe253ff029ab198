"""What staff see of the ledger reconciliation (issue 5 point 6)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ..models import ReconciliationRun

# The run is nightly: a latest run older than this means the schedule (beat, worker) stopped.
STALE_AFTER = dt.timedelta(hours=36)


def reconciliation_latest() -> ReconciliationRun | None:
    """The newest run (one query), or None before the first."""
    return ReconciliationRun.objects.order_by("-started_at", "-pk").first()


def reconciliation_is_stale(
    run: ReconciliationRun | None, *, at: dt.datetime | None = None
) -> bool:
    """No run at all, or none within STALE_AFTER: the nightly check is not happening."""
    return run is None or (at or timezone.now()) - run.started_at > STALE_AFTER
