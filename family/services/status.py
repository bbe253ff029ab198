"""Insured status changes (R14) and guardians (R22), recorded by the bureau."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.models import AuditEntry, InsuredPerson, Notification, User
from accounts.services import audit_record, person_snapshot, snapshot

from ..clock import at_or_now
from ..errors import GUARDIAN_SELF, STAFF_CHANNEL_ONLY, STATUS_ENDED_NOTE, STATUS_UNCHANGED
from ..models import Authorization, Guardianship, Relationship
from ..selectors.checks import check_channel
from .common import end_authorization, end_relationship, end_relationship_if_empty, lock_persons

Status = Authorization.Status
Kind = Notification.Kind


ENDING_STATUSES = (InsuredPerson.Status.TRANSFERRED, InsuredPerson.Status.TERMINATED)


def person_status_change(
    *,
    person: InsuredPerson,
    status: str,
    reason: str,
    actor: User | None,
    channel: str,
    at: dt.datetime | None = None,
) -> InsuredPerson:
    """R14: change a person's insured status. Transfer out or termination ends, at once, every
    live authorization involving them (as holder or member) and the relationships they hold.
    Suspension ends nothing; use-time checks refuse the account while it lasts."""
    if channel == AuditEntry.Channel.ONLINE:  # the bureau changes insured status, not citizens
        raise ValidationError(STAFF_CHANNEL_ONLY, code="staff_channel_only")
    check_channel(actor, channel)
    with transaction.atomic():
        at = at_or_now(at)
        person = lock_persons([person])[person.pk]
        if person.status == status:
            raise ValidationError(STATUS_UNCHANGED, code="status_unchanged")
        before = person_snapshot(person)
        person.status = status
        person.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            channel=channel,
            action="person.status_change",
            obj=person,
            person=person,
            before={**before, "reason": reason},
            after=person_snapshot(person),
        )
        if status in ENDING_STATUSES:
            person_relationships_terminate(person=person, actor=actor, channel=channel, at=at)
    return person


def person_relationships_terminate(
    *, person: InsuredPerson, actor: User | None, channel: str, at: dt.datetime
) -> int:
    """R14: end the live authorizations and held relationships of a transferred/terminated person.
    Idempotent: returns how many authorizations it ended (0 on a second run)."""
    note = str(STATUS_ENDED_NOTE)
    affected = list(
        Authorization.objects.live()
        .select_for_update(no_key=True, of=("self",))
        .select_related("holder", "member", "relationship")
        .filter(Q(holder=person) | Q(member=person))
        .order_by("pk")
    )
    for authorization in affected:
        end_authorization(
            authorization,
            status=Status.TERMINATED,
            at=at,
            actor=actor,
            channel=channel,
            action="authorization.terminate",
            note=note,
        )
    for relationship in Relationship.objects.select_for_update(no_key=True).filter(
        holder=person, status=Relationship.Status.ACTIVE
    ):
        end_relationship(
            relationship,
            reason=Relationship.EndReason.HOLDER_STATUS,
            at=at,
            actor=actor,
            channel=channel,
        )
    for relationship in {a.relationship for a in affected if a.relationship.holder_id != person.pk}:
        end_relationship_if_empty(relationship, at=at, actor=actor, channel=channel)
    return len(affected)


def guardianship_register(
    *,
    guardian: InsuredPerson,
    ward: InsuredPerson,
    basis: str,
    document: str,
    valid_from: dt.date,
    valid_until: dt.date | None,
    actor: User,
    channel: str,
) -> Guardianship:
    """R22: the bureau records a guardian from documents it has seen."""
    if guardian.pk == ward.pk:
        raise ValidationError(GUARDIAN_SELF, code="guardian_self")
    with transaction.atomic():
        guardianship = Guardianship(
            guardian=guardian,
            ward=ward,
            basis=basis,
            document=document,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        guardianship.full_clean()
        guardianship.save()
        audit_record(
            actor=actor,
            channel=channel,
            action="guardianship.register",
            obj=guardianship,
            person=ward,
            after=snapshot(guardianship),
        )
    return guardianship
