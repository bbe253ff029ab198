"""Reads of signed commitment letters for printing (staff) and for the public check page
`/verify/<code>` (issue 7, R7). The citizen's own letters come from `letter_get_for_holder`.

The check page is public: it finds a letter by its verification code only, shows its key facts
masked, whether it is still in force and whether the stored text still matches its content hash.
An unknown code and a malformed one are the same 404."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User, mask_name
from accounts.selectors import staff_get_or_404

from ..letter_print import member_lines, region_name
from ..models import CommitmentLetter, Relationship
from .states import state_label

# The alphabet of `family.models._new_verification_code` (no 0/O, 1/I/L), 12 characters.
CODE_SHAPE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}$")

IN_FORCE = _("有效")
SUPERSEDED = _("已被新的承诺书取代")
RELATIONSHIP_ENDED = _("家庭共济关系已终止")


def letter_get_for_staff(*, user: User, public_id) -> CommitmentLetter:
    """A letter whose holder is of the staff user's regions (404 for any other, whether it
    exists or not), with the holder and region (one query, plus the user's regions once)."""
    return staff_get_or_404(
        CommitmentLetter.objects.select_related("holder__region"),
        user=user,
        region_field="holder__region",
        public_id=public_id,
    )


def normalize_code(code: str) -> str | None:
    """A verification code as typed or scanned (spaces, lower case) in its stored form; None
    when it cannot be one."""
    value = (code or "").strip().upper()
    return value if CODE_SHAPE.match(value) else None


@dataclass(frozen=True)
class CheckedMember:
    """One member as the letter states it (masked), with the state of its authorization now."""

    number: int
    masked_name: str
    masked_id_number: str
    relation: str
    window_label: str
    window: str
    state: str | None  # None: no authorization of the letter matches this line


@dataclass(frozen=True)
class LetterCheck:
    letter: CommitmentLetter
    intact: bool
    in_force: bool
    status: str
    region: str
    members: list[CheckedMember]
    live_count: int


def letter_check(*, code: str, at: dt.datetime | None = None) -> LetterCheck:
    """What the public check page shows for `code` (two queries: the letter with its holder,
    relationship and the id of its relationship's newest letter; the letter's authorizations
    with their people). Http404 for a malformed or unknown code alike, before any query for a
    malformed one."""
    normalized = normalize_code(code)
    if normalized is None:
        raise Http404
    newest = (
        CommitmentLetter.objects.filter(relationship=OuterRef("relationship"))
        .order_by("-signed_at", "-pk")
        .values("pk")[:1]
    )
    letter = (
        CommitmentLetter.objects.select_related("holder__region", "relationship")
        .annotate(newest_pk=Subquery(newest))
        .filter(verification_code=normalized)
        .first()
    )
    if letter is None:
        raise Http404
    at = at or timezone.now()
    authorizations = list(
        letter.authorizations.select_related(
            "holder__region", "member__region", "relationship"
        ).order_by("pk")
    )
    by_line = {(a.member.name, a.member.masked_id_number): a for a in authorizations}
    members = []
    for line in member_lines(letter.text):
        authorization = by_line.get((line.name, line.id_number))
        members.append(
            CheckedMember(
                number=line.number,
                masked_name=mask_name(line.name),
                masked_id_number=line.id_number,
                relation=line.relation,
                window_label=line.window_label,
                window=line.window,
                state=None if authorization is None else state_label(authorization, at),
            )
        )
    live_count = sum(1 for a in authorizations if a.is_live)
    if letter.relationship.status != Relationship.Status.ACTIVE:
        in_force, status = False, RELATIONSHIP_ENDED
    elif letter.newest_pk != letter.pk:
        in_force, status = False, SUPERSEDED
    else:
        in_force, status = True, IN_FORCE
    return LetterCheck(
        letter=letter,
        intact=letter.text_intact,
        in_force=in_force,
        status=str(status),
        region=region_name(letter),
        members=members,
        live_count=live_count if in_force else 0,
    )
