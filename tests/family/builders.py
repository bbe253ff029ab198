"""Small builders shared by the family tests: state is always made through the real services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from family import services
from family.models import Authorization, CommitmentLetter, Guardianship, Relation, Relationship
from payments.services import account_credit
from tests.clock import NOW

ONLINE = AuditEntry.Channel.ONLINE
COUNTER = AuditEntry.Channel.COUNTER
SYSTEM = AuditEntry.Channel.SYSTEM
SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
A = Authorization.Status
LIVE = Authorization.LIVE_STATUSES
PERSON = InsuredPerson.Status


def req(person, relation=Relation.CHILD, start=None, end=None) -> services.MemberRequest:
    return services.MemberRequest(person, relation, start, end)


def bind(holder, *requests, at=NOW, actor=None, channel=ONLINE, name=None, expected_hash=None):
    """The holder signs a binding for `requests` (online with their own login by default)."""
    return services.relationship_bind(
        holder=holder,
        members=list(requests),
        signature=services.Signature(name=holder.name if name is None else name),
        actor=actor if actor is not None else holder.user,
        channel=channel,
        expected_hash=expected_hash,
        at=at,
    )


def fund(person, amount="1000.00") -> InsuredPerson:
    """Credit an employee's personal account, as the bureau's monthly credit would (R2)."""
    account_credit(
        person=person,
        amount=Decimal(amount),
        idempotency_key=f"test-fund:{person.pk}:{amount}",
        description="test credit",
        actor=None,
    )
    return person


def live(holder, member) -> Authorization:
    return Authorization.objects.select_related(
        "holder__region", "member__region", "relationship"
    ).get(holder=holder, member=member, status__in=LIVE)


def answer(authorization, person, *, agree=True, at=NOW, password=CITIZEN_PASSWORD):
    return services.authorization_answer(
        authorization=authorization, agree=agree, actor=person.user, evidence=password, at=at
    )


def messages(const, **params) -> list[str]:
    """What `ValidationError.messages` holds for a module constant (formatted with params)."""
    return [str(const) % params] if params else [str(const)]


def policy_set(code: str, **changes) -> None:
    """Staff edit a region policy (as data)."""
    RegionPolicy.objects.filter(code=code).update(**changes)


def fresh(person) -> InsuredPerson:
    return InsuredPerson.objects.select_related("region", "user").get(pk=person.pk)


def audit_mark() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def audit_since(mark: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=mark).select_related("person").order_by("id"))


def actions_since(mark: int) -> list[str]:
    return [entry.action for entry in audit_since(mark)]


def nothing_written():
    return (
        Relationship.objects.count(),
        Authorization.objects.count(),
        CommitmentLetter.objects.count(),
    ) == (0, 0, 0)


def register_guardian(guardian, ward, staff, **kw):
    return services.guardianship_register(
        guardian=guardian,
        ward=ward,
        basis=kw.get("basis", Guardianship.Basis.COURT),
        document="（2026）苏0102民特12号判决书",
        valid_from=kw.get("valid_from", dt.date(2026, 1, 1)),
        valid_until=kw.get("valid_until"),
        actor=staff,
        channel=COUNTER,
    )
