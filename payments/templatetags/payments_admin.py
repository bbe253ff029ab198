"""Admin index: the latest ledger reconciliation's result (issue 5 point 6), for staff who may
view reconciliation runs. One query (the latest run)."""

from __future__ import annotations

from django import template
from django.urls import reverse

from .. import selectors
from ..selectors.reconcile import STALE_AFTER

register = template.Library()


@register.inclusion_tag("admin/payments/reconciliation_status.html", takes_context=True)
def reconciliation_status(context) -> dict:
    request = context.get("request")
    if request is None or not request.user.has_perm("payments.view_reconciliationrun"):
        return {"shown": False}
    run = selectors.reconciliation_latest()
    return {
        "shown": True,
        "run": run,
        "stale": selectors.reconciliation_is_stale(run),
        "stale_hours": int(STALE_AFTER.total_seconds() // 3600),
        "run_url": run and reverse("admin:payments_reconciliationrun_change", args=[run.pk]),
        "runs_url": reverse("admin:payments_reconciliationrun_changelist"),
    }
