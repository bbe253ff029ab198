"""The staff person page (issue 6): one person of the staff user's regions with their insured
status, personal account, relationships as holder and as member, letters, recent ledger entries
and audit history. It spans accounts, family and payments, so it lives in payments (the highest
app it reads).

Query budget: a constant number whatever the number of relationships, members, letters and
entries: the person (with region and login) is one query, then one query per section (the held
relationships with their authorizations are two: the rows and one prefetch). Nothing is read per
row. Members of another region may be named (name, masked number) but `in_scope` tells the page
whether it may link to their person page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Prefetch, Q
from django.utils import timezone

from accounts.models import AuditEntry, InsuredPerson, User
from accounts.selectors import person_get_for_staff, region_in_staff_scope
from family import selectors as family_selectors
from family.models import Authorization, CommitmentLetter, Relationship

from ..models import LedgerAccount, LedgerLeg
from .balance import balance_of

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Members(TypedDict):
    """What `_held` prefetches onto each relationship (`to_attr`)."""

    members: list[Authorization]


RECENT = 20


def mask_phone(phone: str) -> str:
    """13800000001 -> 138****0001."""
    if len(phone) != 11:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


@dataclass
class StaffPersonPage:
    person: InsuredPerson
    masked_phone: str
    activated: bool
    #: None for a resident-scheme person (no personal account).
    balance: Decimal | None
    #: Relationships the person holds (live first, then newest), each with `.members`.
    held: list[WithAnnotations[Relationship, _Members]]
    #: Authorizations where the person is the member: live ones in stored deduction position
    #: (unset last, filing order), then ended ones, newest first.
    as_member: list[Authorization]
    live_holders_count: int
    letters: list[CommitmentLetter]
    entries: list[LedgerLeg]
    audit: list[AuditEntry]


def _held(person: InsuredPerson) -> list[WithAnnotations[Relationship, _Members]]:
    members = Authorization.objects.select_related("member__region").order_by("created_at", "pk")
    rows = list(
        Relationship.objects.filter(holder=person)
        .prefetch_related(Prefetch("authorizations", queryset=members, to_attr="members"))
        .order_by("-created_at", "-pk")
    )
    rows.sort(key=lambda r: r.status != Relationship.Status.ACTIVE)  # stable: live one first
    return rows


def _as_member(person: InsuredPerson) -> list[Authorization]:
    items = list(
        Authorization.objects.filter(member=person)
        .select_related("holder__region", "relationship")
        .order_by("-created_at", "-pk")
    )
    live = [a for a in items if a.is_live]
    live.sort(key=lambda a: (a.deduction_position is None, a.deduction_position or 0, a.created_at))
    return live + [a for a in items if not a.is_live]


def _letters(person: InsuredPerson) -> list[CommitmentLetter]:
    """Letters the person signed as holder, and letters that cover them as a member."""
    covering = CommitmentLetter.authorizations.through.objects.filter(
        authorization__member=person
    ).values("commitmentletter_id")
    return list(
        CommitmentLetter.objects.filter(Q(holder=person) | Q(pk__in=covering))
        .select_related("holder")
        .only(
            "public_id",
            "verification_code",
            "kind",
            "purpose",
            "signed_at",
            "channel",
            "holder_id",
            "holder__name",
            "holder__id_number",
        )
        .order_by("-signed_at", "-pk")[:RECENT]
    )


def _entries(person: InsuredPerson) -> list[LedgerLeg]:
    if person.scheme != InsuredPerson.Scheme.EMPLOYEE:
        return []
    return list(
        LedgerLeg.objects.filter(account__person=person, account__kind=LedgerAccount.Kind.PERSONAL)
        .select_related("transaction")
        .order_by("-id")[:RECENT]
    )


def person_page_for_staff(
    *, user: User, public_id, at: dt.datetime | None = None
) -> StaffPersonPage:
    """Everything the staff person page shows; 404 for a person outside the user's regions."""
    person = person_get_for_staff(user=user, public_id=public_id)
    at = at or timezone.now()
    held = _held(person)
    as_member = _as_member(person)
    for relationship in held:
        for authorization in relationship.members:
            # Fill the caches the state labels read from the rows already here (no query).
            authorization.holder = person
            authorization.relationship = relationship
            authorization.in_scope = region_in_staff_scope(
                user=user, region_id=authorization.member.region_id
            )
        family_selectors.label_all(relationship.members, at=at)
    for authorization in as_member:
        authorization.member = person
        authorization.in_scope = region_in_staff_scope(
            user=user, region_id=authorization.holder.region_id
        )
    family_selectors.label_all(as_member, at=at)
    audit = list(
        AuditEntry.objects.filter(person=person)
        .select_related("actor")
        .order_by("-at", "-id")[:RECENT]
    )
    return StaffPersonPage(
        person=person,
        masked_phone=mask_phone(person.phone),
        activated=person.user_id is not None,
        balance=balance_of(person),
        held=held,
        as_member=as_member,
        live_holders_count=sum(1 for a in as_member if a.is_live),
        letters=_letters(person),
        entries=_entries(person),
        audit=audit,
    )
