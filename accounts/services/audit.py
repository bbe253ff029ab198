"""The audit trail's writer (R20), used by every service of every app."""

from __future__ import annotations

from typing import Any

from ..models import AuditEntry, InsuredPerson, User


def audit_entry(
    *,
    actor: User | None,
    channel: str,
    action: str,
    obj: Any,
    person: InsuredPerson | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """The audit entry (R20) `audit_record` appends, not yet written: for a writer that inserts
    it in its own statement (the settlement's, issue 16)."""
    object_id = getattr(obj, "public_id", None) or getattr(obj, "pk", None) or ""
    return AuditEntry(
        actor=actor if actor is not None and actor.is_authenticated else None,
        channel=channel,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(object_id),
        person=person,
        before=before,
        after=after,
    )


def audit_record(**fields: Any) -> AuditEntry:
    """Append one audit entry (R20), given as `audit_entry` takes it. Call inside the
    transaction of the change it records."""
    entry = audit_entry(**fields)
    entry.save(force_insert=True)
    return entry
