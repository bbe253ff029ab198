"""Reads of the counter binding pages (issue 6, R18). Every fetch goes through
`accounts.selectors.in_staff_scope` on the binding's region: a binding of another region is a
404, whether it exists or not."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from accounts.models import InsuredPerson, User
from accounts.selectors import in_staff_scope, uuid_or_404

from ..models import Authorization, CounterBinding, CounterBindingMember, Relationship


def _bindings_for_staff(*, user: User) -> QuerySet[CounterBinding]:
    return in_staff_scope(
        CounterBinding.objects.select_related(
            "holder__region", "region", "created_by", "reviewed_by", "letter"
        ),
        user=user,
        region_field="region",
    )


def _members_prefetch() -> Prefetch:
    return Prefetch(
        "members",
        queryset=CounterBindingMember.objects.select_related("person__region").order_by(
            "added_at", "id"
        ),
    )


def counter_binding_get_for_staff(*, user: User, public_id) -> CounterBinding:
    """A binding of the user's regions with its holder and members; 404 for any other."""
    binding = (
        _bindings_for_staff(user=user)
        .prefetch_related(_members_prefetch())
        .filter(public_id=uuid_or_404(public_id))
        .first()
    )
    if binding is None:
        raise Http404
    return binding


def counter_binding_open_for_holder(*, holder: InsuredPerson) -> CounterBinding | None:
    """The holder's open counter binding (at most one, a constraint says so)."""
    return CounterBinding.objects.filter(
        holder=holder, status__in=CounterBinding.OPEN_STATUSES
    ).first()


def counter_bindings_pending_review(*, user: User) -> QuerySet[CounterBinding]:
    """Bindings of the user's regions waiting for a supervisor, oldest submission first."""
    return (
        _bindings_for_staff(user=user)
        .filter(status=CounterBinding.Status.PENDING_REVIEW)
        .prefetch_related(_members_prefetch())
        .order_by("submitted_at", "id")
    )


def counter_bindings_for_holder(*, user: User, holder: InsuredPerson) -> QuerySet[CounterBinding]:
    """A holder's counter bindings, newest first (for the person page)."""
    return _bindings_for_staff(user=user).filter(holder=holder).order_by("-created_at", "-id")


def member_person_find(*, id_number: str, name: str) -> InsuredPerson | None:
    """The bureau's record of a relative the clerk names from the card in hand: the number and
    the name must both match (as online), so a typo never binds someone else. Any region: the
    scope rule (R3) is the service's, with its own message."""
    return (
        InsuredPerson.objects.select_related("region")
        .filter(id_number=id_number, name=name.strip())
        .first()
    )


def holder_live_authorizations(*, holder: InsuredPerson) -> list[Authorization]:
    """The holder's members already bound (any channel): the counter shows them beside the new
    ones, since the letter lists them all and the review threshold counts them."""
    return list(
        Authorization.objects.live()
        .filter(holder=holder, relationship__status=Relationship.Status.ACTIVE)
        .select_related("member__region")
        .order_by("pk")
    )
