"""The state a person reads for an authorization: its stored status refined by the window and both
people's insured status at this instant (R6, R8, R14)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _

from accounts.models import InsuredPerson

from ..models import Authorization

Status = Authorization.Status

NOT_YET_STARTED = _("待生效")
WINDOW_PASSED = _("已过授权期限")
SUSPENDED = _("暂停使用（参保状态异常）")


def state_label(authorization: Authorization, at: dt.datetime) -> str:
    """What a person should read: the stored status, refined by the window and both statuses
    at this instant (the same facts `authorizations_usable_for` checks)."""
    if authorization.status in Authorization.GRANTED_STATUSES:
        if authorization.window_end is not None and at > authorization.window_end:
            return str(WINDOW_PASSED)
        if at < authorization.window_start:
            return str(NOT_YET_STARTED)
        normal = InsuredPerson.Status.NORMAL
        if authorization.holder.status != normal or authorization.member.status != normal:
            return str(SUSPENDED)
        # Started, whether or not the expiry task has turned SCHEDULED into ACTIVE yet.
        return str(Status.ACTIVE.label)
    # R8: past its deadline a request can no longer be answered, whether or not
    # `consents_lapse` has run yet.
    if (
        authorization.status == Status.PENDING_CONSENT
        and authorization.consent_deadline is not None
        and at > authorization.consent_deadline
    ):
        return str(Status.LAPSED.label)
    return str(authorization.get_status_display())
