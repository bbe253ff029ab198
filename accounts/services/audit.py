"""The audit trail's writer (R20), used by every service of every app."""

from __future__ import annotations

from typing import Any

from ..models import AuditEntry, InsuredPerson, User


def audit_record(
    *,
    actor: User | None,
    channel: str,
    action: str,
    obj: Any,
    person: InsuredPerson | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append one audit entry (R20). Call inside the transaction of the change it records."""
    object_id = getattr(obj, "public_id", None) or getattr(obj, "pk", None) or ""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        channel=channel,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(object_id),
        person=person,
        before=before,
        after=after,
    )
