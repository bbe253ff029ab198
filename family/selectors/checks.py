"""Read-only checks of the family rules (R1–R8, R10, R21, R22): what the binding wizard runs as a
dry run and what the services in `family.services` run again under their locks. Nothing here
writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, User
from accounts.selectors import age_on, person_is_minor

from .. import hooks, letters
from ..clock import at_or_now, local_date
from ..errors import (
    HOLDER_IS_MEMBER_ELSEWHERE,
    HOLDER_NO_BALANCE,
    HOLDER_NOT_EMPLOYEE,
    HOLDER_NOT_NORMAL,
    MEMBER_ALREADY_BOUND_HERE,
    MEMBER_DUPLICATED,
    MEMBER_IN_OTHER_RELATIONSHIP,
    MEMBER_IS_HOLDER_ELSEWHERE,
    MEMBER_NOT_NORMAL,
    MEMBER_OUT_OF_SCOPE,
    MEMBERS_AT_ONCE_CAP,
    MEMBERS_LIFETIME_CAP,
    NOT_THE_HOLDER,
    REL_INVALID_RELATION,
    REL_SELF,
    STAFF_CHANNEL_ONLY,
    WINDOW_END_NOT_AFTER_START,
    WINDOW_END_PAST,
    WINDOW_END_REQUIRED,
    WINDOW_START_PAST,
    WINDOW_TOO_LONG,
)
from ..models import Authorization, CommitmentLetter, Guardianship, Relation, Relationship

Status = Authorization.Status


@dataclass(frozen=True)
class MemberRequest:
    """A member the holder asks to bind, already resolved to the bureau's record."""

    person: InsuredPerson
    relation: str
    window_start: dt.datetime | None  # None: from the moment of signing
    window_end: dt.datetime | None  # None: open end (unless the policy caps the length)


@dataclass(frozen=True)
class Signature:
    """R7: the holder's typed full name plus an optional drawn signature (PNG data URL)."""

    name: str
    image: str = ""


def person_acts_for(*, actor_person: InsuredPerson, member: InsuredPerson, at: dt.datetime) -> bool:
    """R22: a registered guardian, valid on the day, acts for the member."""
    day = local_date(at)
    return Guardianship.objects.valid_on(day).filter(guardian=actor_person, ward=member).exists()


def needs_guardian(member: InsuredPerson, at: dt.datetime) -> bool:
    """An adult without legal capacity has a court- or agreement-based guardianship on file."""
    day = local_date(at)
    return (
        Guardianship.objects.valid_on(day)
        .filter(ward=member, basis__in=[Guardianship.Basis.COURT, Guardianship.Basis.AGREEMENT])
        .exists()
    )


def check_holder(holder: InsuredPerson, *, at: dt.datetime) -> None:
    if holder.scheme != InsuredPerson.Scheme.EMPLOYEE:
        raise ValidationError(HOLDER_NOT_EMPLOYEE, code="holder_not_employee")
    if holder.status != InsuredPerson.Status.NORMAL:
        raise ValidationError(HOLDER_NOT_NORMAL, code="holder_not_normal")


def _check_holder_balance(holder: InsuredPerson) -> None:
    balance = hooks.holder_balance(holder)
    if balance is not None and balance <= 0:
        raise ValidationError(HOLDER_NO_BALANCE, code="holder_no_balance")


def _in_scope(policy: RegionPolicy, holder: InsuredPerson, member: InsuredPerson) -> bool:
    if policy.member_scope == RegionPolicy.MemberScope.CITY:
        return member.region_id == holder.region_id
    if policy.member_scope == RegionPolicy.MemberScope.PROVINCE:
        return member.region.code[:2] == holder.region.code[:2]
    return True


def _check_window(
    policy: RegionPolicy,
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    at: dt.datetime,
) -> None:
    """R6. `start` None means from the moment of signing (`at`)."""
    effective_start = at if start is None else start
    if start is not None and start < at:
        raise ValidationError(WINDOW_START_PAST, code="window_start_past")
    if end is not None and end <= effective_start:
        raise ValidationError(WINDOW_END_NOT_AFTER_START, code="window_end_not_after_start")
    if end is not None and end <= at:
        raise ValidationError(WINDOW_END_PAST, code="window_end_past")
    if policy.max_window_days:
        if end is None:
            raise ValidationError(
                WINDOW_END_REQUIRED,
                code="window_end_required",
                params={"days": policy.max_window_days},
            )
        if end - effective_start > dt.timedelta(days=policy.max_window_days):
            raise ValidationError(
                WINDOW_TOO_LONG, code="window_too_long", params={"days": policy.max_window_days}
            )


def _check_member(
    policy: RegionPolicy,
    holder: InsuredPerson,
    request: MemberRequest,
    *,
    relationship: Relationship | None,
    at: dt.datetime,
) -> None:
    member = request.person
    if request.relation not in Relation.values:
        raise ValidationError(REL_INVALID_RELATION, code="rel_invalid_relation")
    if member.pk == holder.pk:
        raise ValidationError(REL_SELF, code="rel_self")
    if member.status != InsuredPerson.Status.NORMAL:
        raise ValidationError(MEMBER_NOT_NORMAL, code="member_not_normal")
    if not _in_scope(policy, holder, member):
        raise ValidationError(
            MEMBER_OUT_OF_SCOPE,
            code="member_out_of_scope",
            params={"scope": RegionPolicy.MemberScope(policy.member_scope).label},
        )
    live = Authorization.objects.live().filter(member=member)
    if relationship is not None and live.filter(relationship=relationship).exists():
        raise ValidationError(MEMBER_ALREADY_BOUND_HERE, code="member_already_bound_here")
    # R5: under an exclusive policy a person is in one relationship only, as member or holder.
    others = live.exclude(holder=holder)
    if others.filter(exclusive=True).exists() or (
        not policy.member_in_several_relationships and others.exists()
    ):
        raise ValidationError(MEMBER_IN_OTHER_RELATIONSHIP, code="member_in_other_relationship")
    if (
        not policy.member_in_several_relationships
        and Relationship.objects.filter(holder=member, status=Relationship.Status.ACTIVE).exists()
    ):
        raise ValidationError(MEMBER_IS_HOLDER_ELSEWHERE, code="member_is_holder_elsewhere")
    _check_window(policy, request.window_start, request.window_end, at=at)


def _check_caps(
    policy: RegionPolicy, holder: InsuredPerson, new_members: Sequence[InsuredPerson]
) -> None:
    """R21: members bound at once and over a lifetime (re-binding the same person counts once;
    requests that were declined or lapsed never bound anyone)."""
    if policy.max_members_at_once is not None:
        live = Authorization.objects.live().filter(holder=holder).count()
        if live + len(new_members) > policy.max_members_at_once:
            raise ValidationError(
                MEMBERS_AT_ONCE_CAP,
                code="members_at_once_cap",
                params={"cap": policy.max_members_at_once},
            )
    if policy.max_members_lifetime is not None:
        ever = set(
            Authorization.objects.filter(holder=holder)
            .exclude(status__in=[Status.DECLINED, Status.LAPSED])
            .values_list("member_id", flat=True)
        )
        if len(ever | {m.pk for m in new_members}) > policy.max_members_lifetime:
            raise ValidationError(
                MEMBERS_LIFETIME_CAP,
                code="members_lifetime_cap",
                params={"cap": policy.max_members_lifetime},
            )


def bind_check(
    *, holder: InsuredPerson, members: Sequence[MemberRequest], at: dt.datetime | None = None
) -> list[ValidationError | None]:
    """Dry run of R1–R6 and R21 for the wizard's first step: one error (or None) per member.
    Holder-level problems are raised, not listed."""
    at = at_or_now(at)
    policy = holder.region
    check_holder(holder, at=at)
    _check_holder_balance(holder)
    _check_holder_not_member_elsewhere(policy, holder)
    relationship = Relationship.objects.filter(
        holder=holder, status=Relationship.Status.ACTIVE
    ).first()
    errors: list[ValidationError | None] = []
    seen: set[int] = set()
    for request in members:
        try:
            if request.person.pk in seen:
                raise ValidationError(MEMBER_DUPLICATED, code="member_duplicated")
            seen.add(request.person.pk)
            _check_member(policy, holder, request, relationship=relationship, at=at)
        except ValidationError as exc:
            errors.append(exc)
        else:
            errors.append(None)
    if not any(errors):
        _check_caps(policy, holder, [r.person for r in members])
    return errors


def _check_holder_not_member_elsewhere(policy: RegionPolicy, holder: InsuredPerson) -> None:
    if policy.member_in_several_relationships:
        return
    if Authorization.objects.live().filter(member=holder).exists():
        raise ValidationError(HOLDER_IS_MEMBER_ELSEWHERE, code="holder_is_member_elsewhere")


def check_channel(actor: User | None, channel: str) -> None:
    """Only staff act through the counter or the admin, and only the system acts without a login:
    a citizen's request is always the online channel, whatever a caller passes."""
    if channel == AuditEntry.Channel.ONLINE:
        if actor is None or not actor.is_authenticated:
            raise ValidationError(STAFF_CHANNEL_ONLY, code="staff_channel_only")
        return
    if actor is not None and not actor.is_staff:
        raise ValidationError(STAFF_CHANNEL_ONLY, code="staff_channel_only")


def check_actor_is_holder(holder: InsuredPerson, actor: User, channel: str) -> None:
    """R7/R22: online, only the holder's own login signs; at the counter, staff act for a holder
    who signs on paper (issue 6)."""
    if channel == AuditEntry.Channel.ONLINE and (
        holder.user_id is None or actor.pk != holder.user_id
    ):
        raise ValidationError(NOT_THE_HOLDER, code="not_the_holder")
    if channel == AuditEntry.Channel.COUNTER and not actor.is_staff:
        raise ValidationError(NOT_THE_HOLDER, code="not_the_holder")


def letter_kind_for(holder: InsuredPerson, channel: str) -> str:
    policy = holder.region
    if channel == AuditEntry.Channel.COUNTER:
        return policy.counter_agreement
    return policy.online_letter


def letter_lines(
    relationship: Relationship | None,
    *,
    replaced: dict[int, tuple[dt.datetime | None, dt.datetime | None]] | None = None,
    new: Sequence[MemberRequest] = (),
) -> list[letters.LetterLine]:
    """The holder's whole commitment after the change: live members (with any changed window),
    then the new ones."""
    lines = []
    if relationship is not None:
        for auth in relationship.authorizations.live().select_related("member").order_by("pk"):
            start, end = auth.window_start, auth.window_end
            if replaced and auth.pk in replaced:
                start, end = replaced[auth.pk]
            lines.append(letters.LetterLine(auth.member, auth.relation, start, end))
    lines += [letters.LetterLine(r.person, r.relation, r.window_start, r.window_end) for r in new]
    return lines


def letter_preview_for_binding(
    *, holder: InsuredPerson, members: Sequence[MemberRequest], channel: str
) -> tuple[str, str]:
    """(template version, text) of the letter the holder will sign for this binding."""
    relationship = Relationship.objects.filter(
        holder=holder, status=Relationship.Status.ACTIVE
    ).first()
    purpose = (
        CommitmentLetter.Purpose.ADD_MEMBERS if relationship else CommitmentLetter.Purpose.BIND
    )
    return letters.render(
        kind=letter_kind_for(holder, channel),
        purpose=purpose,
        holder=holder,
        lines=letter_lines(relationship, new=members),
    )


def needs_consent(policy: RegionPolicy, request: MemberRequest, at: dt.datetime) -> bool:
    """R8 (consent age) and R21 (spouse confirmation where the policy asks for it)."""
    if request.relation == Relation.SPOUSE and policy.spouse_confirmation:
        return True
    if policy.consent_age is None:
        return False
    return age_on(request.person, local_date(at)) >= policy.consent_age


def letter_preview_for_window_change(
    *,
    authorization: Authorization,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
    channel: str,
) -> tuple[str, str]:
    holder = authorization.holder
    start = authorization.window_start if window_start is None else window_start
    return letters.render(
        kind=letter_kind_for(holder, channel),
        purpose=CommitmentLetter.Purpose.CHANGE_WINDOW,
        holder=holder,
        lines=letter_lines(
            authorization.relationship, replaced={authorization.pk: (start, window_end)}
        ),
    )


def window_change_check(
    *,
    authorization: Authorization,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
    at: dt.datetime | None = None,
) -> dt.datetime:
    """R6 for a window change (also the dry run of the page's first step); returns the start the
    authorization will have. `window_start` None keeps the current start."""
    at = at_or_now(at)
    policy = authorization.holder.region
    if window_start is None:
        start = authorization.window_start
        if window_end is not None and window_end <= start:
            raise ValidationError(WINDOW_END_NOT_AFTER_START, code="window_end_not_after_start")
        # Before `_check_window`, which would call an end before now "not after the start".
        if window_end is not None and window_end <= at:
            raise ValidationError(WINDOW_END_PAST, code="window_end_past")
        _check_window(policy, None, window_end, at=max(at, start))
        # R6/R21: a capped window is measured from its real start, not from now.
        if (
            policy.max_window_days
            and window_end is not None
            and window_end - start > dt.timedelta(days=policy.max_window_days)
        ):
            raise ValidationError(
                WINDOW_TOO_LONG, code="window_too_long", params={"days": policy.max_window_days}
            )
        return start
    _check_window(policy, window_start, window_end, at=at)
    return window_start


def may_set_order(*, actor_person: InsuredPerson, member: InsuredPerson, at: dt.datetime) -> bool:
    """R10/R22: the member; for a minor, a holder who binds them; a registered guardian."""
    if actor_person.pk == member.pk:
        return not needs_guardian(member, at)
    if person_acts_for(actor_person=actor_person, member=member, at=at):
        return True
    return (
        person_is_minor(person=member, at=at)
        and Authorization.objects.live().filter(holder=actor_person, member=member).exists()
    )
