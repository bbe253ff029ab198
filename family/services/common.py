"""Helpers the family services share: row locks in ascending id order (persons first, then
authorizations), audit entries (R20) and the notices of a granted or ended authorization."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from accounts.models import InsuredPerson, Notification, User
from accounts.services import audit_record, notifications_send, snapshot

from ..clock import local_date
from ..models import Authorization, Guardianship, Relationship
from . import notify

Status = Authorization.Status
Kind = Notification.Kind


def granted_status(window_start: dt.datetime, at: dt.datetime) -> str:
    """Granted and signed: ACTIVE from its start, SCHEDULED before it."""
    return Status.ACTIVE if window_start <= at else Status.SCHEDULED


def tell_granted_or_asked(authorization: Authorization, *, at: dt.datetime) -> None:
    """A new binding: the member is asked (R8), or both sides learn it has started. A binding
    that starts later is told by `authorizations_activate` when it does."""
    if authorization.status == Status.PENDING_CONSENT:
        notices = notify.for_authorization(
            authorization, kind=Kind.CONSENT_REQUESTED, event="consent_requested", holder=False
        )
        # R22: a registered guardian answers for the ward, so the guardian is asked too.
        day = local_date(at)
        guardian_ids = (
            Guardianship.objects.valid_on(day)
            .filter(ward=authorization.member)
            .values_list("guardian_id", flat=True)
        )
        notices += notify.for_guardians(notices[0], guardian_ids)
    elif authorization.status == Status.ACTIVE:
        notices = notify.for_authorization(authorization, kind=Kind.STARTED, event="started")
    else:
        return
    notifications_send(notices=notices, at=at)


def lock_persons(persons: Iterable[InsuredPerson]) -> dict[int, InsuredPerson]:
    """Lock person rows in ascending id order and return fresh copies (statuses re-read)."""
    ids = sorted({p.pk for p in persons})
    rows = (
        InsuredPerson.objects.select_for_update(no_key=True, of=("self",))
        .select_related("region", "user")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {p.pk: p for p in rows}


def lock_authorization(authorization: Authorization) -> Authorization:
    return (
        Authorization.objects.select_for_update(no_key=True, of=("self",))
        .select_related("holder__region", "member__region", "relationship")
        .get(pk=authorization.pk)
    )


def audit_authorization(
    authorization: Authorization,
    *,
    action: str,
    actor: User | None,
    channel: str,
    before: dict | None,
) -> None:
    after = snapshot(authorization)
    # The entry names the member; the holder's history finds it through the authorization (R20).
    audit_record(
        actor=actor,
        channel=channel,
        action=action,
        obj=authorization,
        person=authorization.member,
        before=before,
        after=after,
    )


def end_authorization(
    authorization: Authorization,
    *,
    status: str,
    at: dt.datetime,
    actor: User | None,
    channel: str,
    action: str,
    note: str = "",
) -> None:
    before = snapshot(authorization)
    authorization.status = status
    authorization.ended_at = at
    authorization.end_note = note[:200]
    authorization.deduction_position = None
    authorization.save(update_fields=["status", "ended_at", "end_note", "deduction_position"])
    audit_authorization(authorization, action=action, actor=actor, channel=channel, before=before)
    # R14/R15: both sides are told.
    notifications_send(
        notices=notify.for_authorization(
            authorization, kind=Kind.ENDED, event="ended", reason=Status(status).label
        ),
        at=at,
    )


def end_relationship(
    relationship: Relationship,
    *,
    reason: str,
    at: dt.datetime,
    actor: User | None,
    channel: str,
    note: str = "",
) -> None:
    before = snapshot(relationship)
    relationship.status = Relationship.Status.ENDED
    relationship.ended_at = at
    relationship.end_reason = reason
    relationship.save(update_fields=["status", "ended_at", "end_reason"])
    after = snapshot(relationship)
    if note:
        after["note"] = note
    audit_record(
        actor=actor,
        channel=channel,
        action="relationship.end",
        obj=relationship,
        person=relationship.holder,
        before=before,
        after=after,
    )


def end_relationship_if_empty(
    relationship: Relationship, *, at: dt.datetime, actor: User | None, channel: str
) -> None:
    """A relationship with no live member left ends (so that, under an exclusive policy, the
    holder is free to join another one, R5)."""
    relationship = Relationship.objects.select_for_update(no_key=True).get(pk=relationship.pk)
    if relationship.status != Relationship.Status.ACTIVE:
        return
    if not relationship.authorizations.live().exists():
        end_relationship(
            relationship,
            reason=Relationship.EndReason.NO_MEMBERS,
            at=at,
            actor=actor,
            channel=channel,
        )
