"""The member's (or guardian's) answer to a binding request (R8, R22)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import AuditEntry, InsuredPerson, Notification, User
from accounts.services import notifications_send, snapshot

from ..clock import at_or_now
from ..errors import (
    CONSENT_GUARDIAN_REQUIRED,
    CONSENT_LAPSED,
    CONSENT_NOT_PENDING,
    CONSENT_NOT_YOURS,
    CONSENT_VERIFICATION_FAILED,
)
from ..models import Authorization
from ..selectors.checks import needs_guardian, person_acts_for
from ..verification import get_verifier
from . import notify
from .common import (
    audit_authorization,
    end_relationship_if_empty,
    granted_status,
    lock_authorization,
    tell_granted_or_asked,
)

Status = Authorization.Status
Kind = Notification.Kind


def authorization_answer(
    *,
    authorization: Authorization,
    agree: bool,
    actor: User,
    evidence: str,
    at: dt.datetime | None = None,
) -> Authorization:
    """The member (or their guardian, R22) agrees or declines after re-verifying identity."""
    with transaction.atomic():
        at = at_or_now(at)
        authorization = lock_authorization(authorization)
        member = authorization.member
        actor_person = InsuredPerson.objects.filter(user=actor).first()
        is_member = actor_person is not None and actor_person.pk == member.pk
        is_guardian = actor_person is not None and person_acts_for(
            actor_person=actor_person, member=member, at=at
        )
        if not (is_member or is_guardian):
            raise ValidationError(CONSENT_NOT_YOURS, code="consent_not_yours")
        if is_member and not is_guardian and needs_guardian(member, at):
            raise ValidationError(CONSENT_GUARDIAN_REQUIRED, code="consent_guardian_required")
        if authorization.status != Status.PENDING_CONSENT:
            raise ValidationError(CONSENT_NOT_PENDING, code="consent_not_pending")
        if authorization.consent_deadline is not None and at > authorization.consent_deadline:
            raise ValidationError(CONSENT_LAPSED, code="consent_lapsed")
        if not get_verifier().verify(user=actor, evidence=evidence):
            raise ValidationError(CONSENT_VERIFICATION_FAILED, code="consent_verification_failed")
        before = snapshot(authorization)
        authorization.answered_at = at
        authorization.answered_by = actor
        if agree:
            authorization.status = granted_status(authorization.window_start, at)
            authorization.save(update_fields=["status", "answered_at", "answered_by"])
            action = "authorization.consent"
        else:
            authorization.status = Status.DECLINED
            authorization.ended_at = at
            authorization.save(update_fields=["status", "answered_at", "answered_by", "ended_at"])
            action = "authorization.decline"
        audit_authorization(
            authorization,
            action=action,
            actor=actor,
            channel=AuditEntry.Channel.ONLINE,
            before=before,
        )
        if agree:
            tell_granted_or_asked(authorization, at=at)
        else:
            notifications_send(
                notices=notify.for_authorization(
                    authorization, kind=Kind.ENDED, event="ended", reason=Status.DECLINED.label
                ),
                at=at,
            )
        if not agree:
            end_relationship_if_empty(
                authorization.relationship, at=at, actor=actor, channel=AuditEntry.Channel.ONLINE
            )
    return authorization
