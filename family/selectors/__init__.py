"""Reads of the family app, scoped to who asks. Every page's query count is constant: lists come
with their people and regions in one query (select_related), never one query per row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts import idnumber
from accounts.models import InsuredPerson, RegionPolicy, User
from accounts.selectors import (
    adult_birth_cutoff,
    in_staff_scope,
    person_for_user,
    staff_get_or_404,
    uuid_or_404,
)

from .. import hooks
from ..clock import local_date
from ..models import Authorization, CommitmentLetter, Guardianship, Relationship
from .checks import (
    MemberRequest,
    Signature,
    age_on,
    bind_check,
    letter_kind_for,
    letter_preview_for_binding,
    letter_preview_for_window_change,
    may_set_order,
    person_acts_for,
    window_change_check,
)
from .counter import (
    counter_binding_get_for_staff,
    counter_binding_open_for_holder,
    counter_bindings_for_holder,
    counter_bindings_pending_review,
    holder_live_authorizations,
    member_person_find,
)
from .letters import letter_check, letter_get_for_staff, normalize_code
from .states import NOT_YET_STARTED, SUSPENDED, WINDOW_PASSED, state_label

Status = Authorization.Status


def _with_people(qs: QuerySet[Authorization]) -> QuerySet[Authorization]:
    return qs.select_related("holder__region", "member__region", "relationship")


def _label(items: list[Authorization], at: dt.datetime) -> list[Authorization]:
    for item in items:
        item.state = state_label(item, at)
        item.usable = is_usable(item, at)
    return items


def is_usable(authorization: Authorization, at: dt.datetime) -> bool:
    normal = InsuredPerson.Status.NORMAL
    return (
        authorization.is_usable_at(at)
        and authorization.relationship.status == Relationship.Status.ACTIVE
        and authorization.holder.status == normal
        and authorization.member.status == normal
        and authorization.holder.scheme == InsuredPerson.Scheme.EMPLOYEE
    )


# ---------------------------------------------------------------------------------------------
# use time (R9, R10, R14): correctness never depends on a scheduler


def _ordered(member: InsuredPerson, items: list[Authorization]) -> list[Authorization]:
    """R10: positions the member set come first; the rest follow the policy's fallback order
    (R21): filing order, or the holders' balances from high to low where the payments app tells
    them."""
    positioned = sorted(
        (a for a in items if a.deduction_position is not None),
        key=lambda a: a.deduction_position or 0,  # never None here; `or 0` only tells the type
    )
    rest = [a for a in items if a.deduction_position is None]
    rest.sort(key=lambda a: (a.created_at, a.pk))
    if member.region.fallback_order == RegionPolicy.FallbackOrder.BALANCE:
        read = {a.holder_id: hooks.holder_balance(a.holder) for a in rest}
        balances = {holder: b for holder, b in read.items() if b is not None}
        if len(balances) == len(read):
            rest.sort(key=lambda a: -balances[a.holder_id])
    return positioned + rest


def authorizations_usable_for(*, member: InsuredPerson, at: dt.datetime) -> list[Authorization]:
    """The authorizations through which holders may pay for `member` at instant `at`, in
    deduction order. Window, relationship and both people's statuses are checked here, at use
    time, whatever the scheduled jobs have or have not done yet (R14, issue 5)."""
    normal = InsuredPerson.Status.NORMAL
    if InsuredPerson.objects.filter(pk=member.pk, status=normal).exists() is False:
        return []
    items = list(
        _with_people(
            Authorization.objects.filter(
                Q(window_end__isnull=True) | Q(window_end__gte=at),
                member=member,
                status__in=Authorization.GRANTED_STATUSES,
                window_start__lte=at,
                relationship__status=Relationship.Status.ACTIVE,
                holder__status=normal,
                holder__scheme=InsuredPerson.Scheme.EMPLOYEE,
            )
        )
    )
    return _ordered(member, items)


def authorizations_lock_usable_for(
    *, member: InsuredPerson, at: dt.datetime
) -> list[Authorization]:
    """`authorizations_usable_for` for a payment, inside its transaction (issue 13 point 4).

    The member, the holders and their authorizations are share-locked (FOR SHARE; persons
    first, then authorizations, each in ascending id order, the order every writer of the
    family app takes) and then read again. A revoke, leave, end, window or status change takes
    FOR NO KEY UPDATE on one of those rows, which conflicts: either it committed before the
    locks were granted, and the second read sees it, or it waits until the payment commits.
    So once such a change has returned, no payment can use what it ended. An authorization
    granted between the two reads is left for the next payment.

    The member's `status` and `scheme` are read again under the lock and set on `member`: the
    caller judges the member's own account on what is true now. A member with no granted
    authorization in its window at all (most payments: the patient's own account) is told so by
    one prepared-text statement, and only the member is share-locked (issue 16 point 2)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("authorizations_lock_usable_for runs inside the payment's transaction")
    if not _granted_in_window(member.pk, at):
        _share_lock_people(member, {member.pk})
        return []
    candidates = authorizations_usable_for(member=member, at=at)
    _share_lock_people(member, {member.pk, *(a.holder_id for a in candidates)})
    if not candidates:
        return []
    _share_lock(Authorization, {a.pk for a in candidates})
    ids = {a.pk for a in candidates}
    return [a for a in authorizations_usable_for(member=member, at=at) if a.pk in ids]


_GRANTED_IN_WINDOW = (
    f'SELECT EXISTS (SELECT 1 FROM "{Authorization._meta.db_table}" '  # noqa: S608 - constants
    "WHERE member_id = %s AND status = ANY(%s) AND window_start <= %s "
    "AND (window_end IS NULL OR window_end >= %s))"
)


def _granted_in_window(member_id: int, at: dt.datetime) -> bool:
    """Whether any authorization of the member is granted and in its window at `at`: what
    `authorizations_usable_for` asks first of all (the rest of its conditions only narrow)."""
    granted = [str(status) for status in Authorization.GRANTED_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(_GRANTED_IN_WINDOW, [member_id, granted, at, at])
        return bool(cursor.fetchone()[0])


def _share_lock(model, ids: set[int]) -> None:
    """SELECT … FOR SHARE of these rows in ascending id order (Django's select_for_update has
    no FOR SHARE: several payments for one member must not wait for each other)."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE id = ANY(%s) ORDER BY id FOR SHARE",  # noqa: S608 - our table
            [sorted(ids)],
        )


def _share_lock_people(member: InsuredPerson, ids: set[int]) -> None:
    """`_share_lock` of these people, reading the member's status and scheme again."""
    table = connection.ops.quote_name(InsuredPerson._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, status, scheme FROM {table} WHERE id = ANY(%s) ORDER BY id FOR SHARE",  # noqa: S608 - our table
            [sorted(ids)],
        )
        for person_id, status, scheme in cursor.fetchall():
            if person_id == member.pk:
                member.status, member.scheme = status, scheme


def deduction_order_for(*, member: InsuredPerson) -> list[Authorization]:
    """All live authorizations of a member in the order holders would pay."""
    items = list(_with_people(Authorization.objects.live().filter(member=member)))
    return _ordered(member, items)


# ---------------------------------------------------------------------------------------------
# people


def person_find_for_binding(*, id_number: str, name: str) -> InsuredPerson | None:
    """The bureau's record for a relative the holder names: both number and name must match."""
    number = idnumber.normalize(id_number)
    return (
        InsuredPerson.objects.select_related("region")
        .filter(id_number=number, name=name.strip())
        .first()
    )


def wards_for(*, person: InsuredPerson, at: dt.datetime) -> list[InsuredPerson]:
    """People this person acts for (R22): registered wards, and minors they bind as holder whose
    deduction order they may set (R10). One query: the two kinds of id are a UNION looked up by
    index (an OR across two joins scanned every person and authorization: 74 ms at 100,000
    relationships instead of 0.5 ms, bench/pages.py)."""
    day = local_date(at)
    registered = Guardianship.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=day),
        guardian=person,
        valid_from__lte=day,
    ).values("ward_id")
    minors = Authorization.objects.filter(
        holder=person,
        status__in=Authorization.LIVE_STATUSES,
        member__birth_date__gt=adult_birth_cutoff(day),
    ).values("member_id")
    return list(
        InsuredPerson.objects.filter(pk__in=registered.order_by().union(minors.order_by()))
        .select_related("region")
        .order_by("birth_date", "pk")
    )


# ---------------------------------------------------------------------------------------------
# the citizen's pages


@dataclass
class FamilyOverview:
    person: InsuredPerson
    relationship: Relationship | None
    as_holder: list[Authorization]
    as_member: list[Authorization]
    letters: list[CommitmentLetter]
    pending_consents: list[Authorization]
    wards: list[InsuredPerson]


def family_overview(*, person: InsuredPerson, at: dt.datetime) -> FamilyOverview:
    relationship = Relationship.objects.filter(
        holder=person, status=Relationship.Status.ACTIVE
    ).first()
    as_holder = (
        _label(
            list(_with_people(relationship.authorizations.live()).order_by("created_at", "pk")), at
        )
        if relationship
        else []
    )
    as_member = _label(deduction_order_for(member=person), at)
    letters = (
        list(CommitmentLetter.objects.filter(relationship=relationship).order_by("-signed_at")[:5])
        if relationship
        else []
    )
    return FamilyOverview(
        person=person,
        relationship=relationship,
        as_holder=as_holder,
        as_member=as_member,
        letters=letters,
        pending_consents=consents_pending_for(person=person, at=at),
        wards=wards_for(person=person, at=at),
    )


def consents_pending_for(*, person: InsuredPerson, at: dt.datetime) -> list[Authorization]:
    """Requests this person may answer: their own, and their registered wards' (R8, R22)."""
    day = local_date(at)
    ward_ids = Guardianship.objects.valid_on(day).filter(guardian=person).values("ward_id")
    return list(
        _with_people(
            Authorization.objects.filter(
                Q(member=person) | Q(member_id__in=ward_ids),
                status=Status.PENDING_CONSENT,
                consent_deadline__gte=at,
            )
        ).order_by("consent_deadline", "pk")
    )


def _authorization_or_404(public_id, *who: Q, **filters) -> Authorization:
    """The authorization with `public_id` and its people, when it matches `who`; 404 otherwise."""
    item = (
        _with_people(Authorization.objects.filter(public_id=uuid_or_404(public_id)))
        .filter(*who, **filters)
        .first()
    )
    if item is None:
        raise Http404
    return item


def authorization_get_for_holder(*, user: User, public_id) -> Authorization:
    """Only the holder's own login gets it; anyone else gets 404 (not 403: nothing is revealed)."""
    return _authorization_or_404(public_id, holder__user_id=user.pk)


def authorization_get_for_member(*, user: User, public_id, at: dt.datetime) -> Authorization:
    """The member's own login or a registered guardian of the member (R22)."""
    person = person_for_user(user=user)
    if person is None:
        raise Http404
    day = local_date(at)
    ward_ids = Guardianship.objects.valid_on(day).filter(guardian=person).values("ward_id")
    return _authorization_or_404(public_id, Q(member=person) | Q(member_id__in=ward_ids))


def letter_get_for_holder(*, user: User, public_id) -> CommitmentLetter:
    item = (
        CommitmentLetter.objects.select_related("holder__region", "signed_by")
        .filter(public_id=uuid_or_404(public_id), holder__user_id=user.pk)
        .first()
    )
    if item is None:
        raise Http404
    return item


def member_get_for_order(*, user: User, public_id, at: dt.datetime) -> InsuredPerson:
    """A person whose deduction order `user` may set (themselves, a ward, a minor they bind)."""
    person = person_for_user(user=user)
    if person is None:
        raise Http404
    member = (
        InsuredPerson.objects.select_related("region")
        .filter(public_id=uuid_or_404(public_id))
        .first()
    )
    if member is None or not may_set_order(actor_person=person, member=member, at=at):
        raise Http404
    return member


def records_for(
    *,
    person: InsuredPerson,
    status: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Authorization]:
    """共济账户授权记录查询 (R15): every binding and unbinding where the person is holder or
    member, newest first; dates filter on when the binding was made or ended."""
    qs = _with_people(Authorization.objects.filter(Q(holder=person) | Q(member=person)))
    if status:
        qs = qs.filter(status=status)
    if date_from or date_to:
        # Bound within the dates, or ended within them: a binding made before and ended after
        # the dates had no event in them and is not listed.
        made, ended = Q(), Q(ended_at__isnull=False)
        if date_from:
            made &= Q(created_at__date__gte=date_from)
            ended &= Q(ended_at__date__gte=date_from)
        if date_to:
            made &= Q(created_at__date__lte=date_to)
            ended &= Q(ended_at__date__lte=date_to)
        qs = qs.filter(made | ended)
    return qs.order_by("-created_at", "-pk")


# ---------------------------------------------------------------------------------------------
# holder pages (added with family/views/binding.py)


def letter_authorizations(*, letter: CommitmentLetter) -> list[Authorization]:
    """The authorizations a signed letter covers, with their people (one query)."""
    return list(_with_people(letter.authorizations.all()).order_by("created_at", "pk"))


def letters_for_authorization(*, authorization: Authorization) -> list[CommitmentLetter]:
    """The signed letters that cover one authorization, newest first (one query)."""
    return list(authorization.letters.order_by("-signed_at", "-pk"))


# ---------------------------------------------------------------------------------------------
# member pages (added with family/views/member.py)


def relationship_has_other_live(*, authorization: Authorization) -> bool:
    """Whether another member is still live in the authorization's relationship: revoking or
    leaving the last one ends the relationship too (one query)."""
    return (
        Authorization.objects.live()
        .filter(relationship_id=authorization.relationship_id)
        .exclude(pk=authorization.pk)
        .exists()
    )


def label_all(items: list[Authorization], *, at: dt.datetime) -> list[Authorization]:
    """Each row's `state` (what a person should read) and `usable` at `at`; no query."""
    return _label(items, at)


# ---------------------------------------------------------------------------------------------
# staff counter (issue 6): every object is scoped by the HOLDER's region through
# `accounts.selectors.in_staff_scope`; one of another region is a 404, as if it did not exist.
# (Imported where used: this block is appended to the module, below its import section.)


def authorization_get_for_staff(*, user: User, public_id) -> Authorization:
    """An authorization whose holder is of the staff user's regions, with its people."""

    item = (
        in_staff_scope(
            _with_people(Authorization.objects.filter(public_id=uuid_or_404(public_id))),
            user=user,
            region_field="holder__region",
        )
        .select_related("holder__user", "member__user")
        .first()
    )
    if item is None:
        raise Http404
    return item


def relationship_get_for_staff(*, user: User, public_id) -> Relationship:
    """A relationship whose holder is of the staff user's regions, with its holder."""

    return staff_get_or_404(
        Relationship.objects.select_related("holder__region"),
        user=user,
        region_field="holder__region",
        public_id=public_id,
    )


def relationship_live_authorizations(*, relationship: Relationship) -> list[Authorization]:
    """The live members of one relationship, in binding order, with their people (one query)."""
    return list(_with_people(relationship.authorizations.live()).order_by("created_at", "pk"))


def person_live_authorizations(*, person: InsuredPerson) -> tuple[list[Authorization], list]:
    """(as holder, as member): the person's live authorizations, what an R14 status change would
    end at once (one query)."""
    items = list(
        _with_people(
            Authorization.objects.live().filter(Q(holder=person) | Q(member=person))
        ).order_by("created_at", "pk")
    )
    return (
        [a for a in items if a.holder_id == person.pk],
        [a for a in items if a.member_id == person.pk],
    )


__all__ = [
    "NOT_YET_STARTED",
    "SUSPENDED",
    "WINDOW_PASSED",
    "FamilyOverview",
    "MemberRequest",
    "Signature",
    "age_on",
    "authorization_get_for_holder",
    "authorization_get_for_member",
    "authorization_get_for_staff",
    "authorizations_lock_usable_for",
    "authorizations_usable_for",
    "bind_check",
    "consents_pending_for",
    "counter_binding_get_for_staff",
    "counter_binding_open_for_holder",
    "counter_bindings_for_holder",
    "counter_bindings_pending_review",
    "deduction_order_for",
    "family_overview",
    "holder_live_authorizations",
    "is_usable",
    "label_all",
    "letter_authorizations",
    "letter_check",
    "letter_get_for_holder",
    "letter_get_for_staff",
    "letter_kind_for",
    "letter_preview_for_binding",
    "letter_preview_for_window_change",
    "letters_for_authorization",
    "may_set_order",
    "member_get_for_order",
    "member_person_find",
    "normalize_code",
    "person_acts_for",
    "person_find_for_binding",
    "person_for_user",
    "person_live_authorizations",
    "records_for",
    "relationship_get_for_staff",
    "relationship_has_other_live",
    "relationship_live_authorizations",
    "state_label",
    "wards_for",
    "window_change_check",
]
