"""Reads of the accounts app, scoped to who asks."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from . import idnumber
from .models import ADULT_AGE, AuditEntry, InsuredPerson, Notification, User


def person_for_user(*, user: User | AnonymousUser) -> InsuredPerson | None:
    """The insured person a logged-in citizen has claimed, with its region; None otherwise."""
    if not user.is_authenticated:
        return None
    return InsuredPerson.objects.select_related("region").filter(user_id=user.pk).first()


def age_on(person: InsuredPerson, day: dt.date) -> int:
    """Whole years of age on `day`."""
    born = person.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def person_is_minor(*, person: InsuredPerson, at: dt.datetime) -> bool:
    """Younger than ADULT_AGE on the local (Asia/Shanghai) day of `at` (R10, R22)."""
    return age_on(person, timezone.localtime(at).date()) < ADULT_AGE


def adult_birth_cutoff(day: dt.date) -> dt.date:
    """The latest birth date of an adult on `day`: whoever was born after it is a minor (the
    same answer as person_is_minor, for a query). On 29 February, 18 years back has no 29th:
    the 28th."""
    try:
        return day.replace(year=day.year - ADULT_AGE)
    except ValueError:  # 29 February
        return day.replace(year=day.year - ADULT_AGE, day=28)


def person_for_activation(*, public_id: str) -> InsuredPerson | None:
    """The person whose activation a session started (step 1 passed); None for anything else."""
    value = uuid_or_none(public_id)
    if value is None:
        return None
    return InsuredPerson.objects.select_related("region").filter(public_id=value).first()


def user_for_identity_number(*, number: str) -> User | None:
    return User.objects.filter(insured_person__id_number=number).first() if number else None


# ---------------------------------------------------------------------------------------------
# 站内信 (issue 5)


def notifications_for(*, person: InsuredPerson | None) -> QuerySet[Notification]:
    """One person's inbox, newest first; a queryset, so a paginator counts and slices it in SQL.
    Nobody (None: staff, a login without an insured person) has an empty inbox."""
    if person is None:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=person).order_by("-created_at", "-id")


def notification_get_for_user(
    *, user: User | AnonymousUser, public_id: uuid.UUID | str
) -> Notification:
    """Only the recipient's own login gets it. Anyone else, and an id that is no UUID, gets 404
    (not 403): whether someone else's message exists is not revealed."""
    if not user.is_authenticated:  # user.pk None would match recipients without a login
        raise Http404
    item = Notification.objects.filter(
        public_id=uuid_or_404(public_id), recipient__user_id=user.pk
    ).first()
    if item is None:
        raise Http404
    return item


def unread_count_for(*, user: User | AnonymousUser) -> int:
    """The header badge: one query for a citizen; none for anonymous or staff (0)."""
    if not user.is_authenticated or user.is_staff:
        return 0
    return Notification.objects.filter(recipient__user_id=user.pk, read_at__isnull=True).count()


# ---------------------------------------------------------------------------------------------
# Staff scope (issue 6): a staff user sees only the persons, relationships and money of the
# regions they serve (`User.regions`). A superuser (the system administrator) sees every region.


def staff_region_ids(*, user: User | AnonymousUser) -> frozenset[int] | None:
    """The region ids a staff user may see; None means every region (superuser); an empty set
    for a citizen, an anonymous user or staff without regions. One query, then cached on the
    user object for the rest of the request."""
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return frozenset()
    if user.is_superuser:
        return None
    cached = getattr(user, "_staff_region_ids", None)
    if cached is None:
        cached = frozenset(user.regions.values_list("pk", flat=True))
        user._staff_region_ids = cached  # type: ignore[attr-defined]  # per-request cache
    return cached


def in_staff_scope(queryset: QuerySet, *, user, region_field: str) -> QuerySet:
    """`queryset` narrowed to the user's regions through `region_field` (a lookup to a
    RegionPolicy, e.g. "region", "person__region", "holder__region"). Every staff read goes
    through this, in the staff pages and in the admin alike."""
    regions = staff_region_ids(user=user)
    if regions is None:
        return queryset
    if not regions:
        return queryset.none()
    return queryset.filter(**{f"{region_field}__in": regions})


def region_in_staff_scope(*, user, region_id: int | None) -> bool:
    regions = staff_region_ids(user=user)
    return regions is None or region_id in regions


def uuid_or_none(value: object) -> uuid.UUID | None:
    """A public id from a URL, a form or a session as a UUID; None for anything else. The one
    place every app parses a public id."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def uuid_or_404(public_id: uuid.UUID | str) -> uuid.UUID:
    """A public id from a URL or a form as a UUID; anything else is a 404 (never a 500), for
    every app's fetches by public id."""
    value = uuid_or_none(public_id)
    if value is None:
        raise Http404
    return value


def staff_get_or_404(queryset: QuerySet, *, user, region_field: str, public_id):
    """The row of `queryset` with `public_id` when it is of the staff user's regions through
    `region_field`; 404 for any other, whether it exists or not (one query, plus the user's
    regions once)."""
    item = (
        in_staff_scope(queryset, user=user, region_field=region_field)
        .filter(public_id=uuid_or_404(public_id))
        .first()
    )
    if item is None:
        raise Http404
    return item


def person_get_for_staff(*, user, public_id: uuid.UUID | str) -> InsuredPerson:
    """A person of the staff user's regions, with region and login; 404 for any other (whether a
    person of another region exists is not revealed)."""
    return staff_get_or_404(
        InsuredPerson.objects.select_related("region", "user"),
        user=user,
        region_field="region",
        public_id=public_id,
    )


def persons_search_for_staff(*, user, query: str) -> QuerySet[InsuredPerson]:
    """Find persons of the user's regions by identity number (the whole number, either case of
    the check letter) or by name (the whole name, or its beginning). An empty query finds
    nobody: staff look a person up, they do not browse the register."""
    query = (query or "").strip()
    persons = in_staff_scope(
        InsuredPerson.objects.select_related("region"), user=user, region_field="region"
    )
    if not query:
        return persons.none()
    if len(query) == 18 and query[:17].isdigit():
        return persons.filter(id_number=query.upper())
    return persons.filter(name__startswith=query).order_by("name", "id_number")


# ---------------------------------------------------------------------------------------------
# The audit-trail browser (issue 6 point 3): entries of persons in the staff user's regions;
# entries without a person (institutions, reconciliation, exports) for superusers only.

AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    """What the browser and the export filter by; empty values filter nothing. `id_number` is a
    validated, normalized identity number; `name` the beginning of a person's name."""

    id_number: str = ""
    name: str = ""
    username: str = ""
    action: str = ""
    channel: str = ""
    date_from: dt.date | None = None  # local dates (Asia/Shanghai), both inclusive
    date_to: dt.date | None = None

    def for_audit(self) -> dict:
        """The filters as the export's own audit entry keeps them: JSON-safe, number masked."""
        data = {key: value for key, value in asdict(self).items() if value}
        if self.id_number:
            data["id_number"] = idnumber.mask(self.id_number)
        for key in ("date_from", "date_to"):
            if key in data:
                data[key] = data[key].isoformat()
        return data


def audit_entries_for_staff(*, user) -> QuerySet[AuditEntry]:
    """Every entry the user may read. `person__region__in` also drops entries without a person
    for anyone but a superuser (for whom `in_staff_scope` narrows nothing)."""
    return in_staff_scope(AuditEntry.objects.all(), user=user, region_field="person__region")


def audit_actions_for_staff(*, user) -> list[str]:
    """The actions found among the entries the user may read (the filter's choices): one query."""
    return list(
        audit_entries_for_staff(user=user)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


def audit_entries_search(*, user, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The user's entries matching `filters`, newest first, with actor and person joined (one
    query a page). A person of another region finds nothing, whatever is typed."""
    entries = audit_entries_for_staff(user=user).select_related("actor", "person")
    if filters.id_number:
        entries = entries.filter(person__id_number=filters.id_number)
    if filters.name:
        entries = entries.filter(person__name__startswith=filters.name)
    if filters.username:
        entries = entries.filter(actor__username=filters.username)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.channel:
        entries = entries.filter(channel=filters.channel)
    if filters.date_from:
        entries = entries.filter(at__gte=_local_midnight(filters.date_from))
    if filters.date_to:
        entries = entries.filter(at__lt=_local_midnight(filters.date_to + dt.timedelta(days=1)))
    return entries.order_by("-at", "-id")
