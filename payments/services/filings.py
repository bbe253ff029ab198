"""异地就医备案 (R19): out-of-region registrations, recorded by staff. Settlement reads them
(`settlement._mutual_aid_allowed`); a filing is never deleted, only ended, so that what mutual aid
paid while it stood stays explained."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, User
from accounts.services import audit_record

from ..models import OutOfRegionFiling

# R19
FILING_SAME_REGION = _("就医地须为参保地以外的统筹区")
FILING_PERSON_NOT_NORMAL = _("只有正常参保的人员可以办理异地就医备案")
FILING_END_BEFORE_START = _("备案结束日期不能早于开始日期")
FILING_OVERLAPS = _("该参保人在该就医地已有期间重叠的备案")
FILING_END_LATER = _("只能提前结束备案；延长请办理新的备案")


def _snapshot(filing: OutOfRegionFiling) -> dict:
    return {
        "care_region": filing.care_region.code,
        "valid_from": filing.valid_from.isoformat(),
        "valid_to": filing.valid_to.isoformat() if filing.valid_to else None,
    }


def out_of_region_filing_check(
    *,
    person: InsuredPerson,
    care_region: RegionPolicy,
    valid_from: dt.date,
    valid_to: dt.date | None,
) -> None:
    """The rules of a new filing, without writing (forms run it to place the message; the
    create service runs it again under the person's lock)."""
    if care_region.pk == person.region_id:  # R19: care elsewhere is what a filing is for
        raise ValidationError(FILING_SAME_REGION, code="same_region")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError(FILING_END_BEFORE_START, code="dates")
    if person.status != InsuredPerson.Status.NORMAL:
        raise ValidationError(FILING_PERSON_NOT_NORMAL, code="status")
    overlapping = OutOfRegionFiling.objects.filter(person=person, care_region=care_region).exclude(
        valid_to__lt=valid_from
    )
    if valid_to is not None:
        overlapping = overlapping.filter(valid_from__lte=valid_to)
    if overlapping.exists():
        raise ValidationError(FILING_OVERLAPS, code="overlap")


def out_of_region_filing_end_check(*, filing: OutOfRegionFiling, valid_to: dt.date) -> None:
    """The rules of ending a filing on `valid_to` (its last valid day), without writing."""
    if valid_to < filing.valid_from:
        raise ValidationError(FILING_END_BEFORE_START, code="dates")
    if filing.valid_to is not None and valid_to > filing.valid_to:
        raise ValidationError(FILING_END_LATER, code="later")


def out_of_region_filing_create(
    *,
    person: InsuredPerson,
    care_region: RegionPolicy,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    actor: User | None,
    channel: str = AuditEntry.Channel.ADMIN,
) -> OutOfRegionFiling:
    """File an out-of-region registration for the person's care in `care_region` (R19). Refused
    for the person's own region, a person not in normal status, reversed dates, or a period that
    overlaps another filing of the same person and care region."""
    with transaction.atomic():
        # One person's filings are written one at a time, so two clerks cannot file overlaps.
        person = InsuredPerson.objects.select_for_update().get(pk=person.pk)
        out_of_region_filing_check(
            person=person, care_region=care_region, valid_from=valid_from, valid_to=valid_to
        )
        filing = OutOfRegionFiling.objects.create(
            person=person, care_region=care_region, valid_from=valid_from, valid_to=valid_to
        )
        audit_record(
            actor=actor,
            channel=channel,
            action="filing.create",
            obj=filing,
            person=person,
            after=_snapshot(filing),
        )
    return filing


def out_of_region_filing_end(
    *,
    filing: OutOfRegionFiling,
    valid_to: dt.date,
    actor: User | None,
    channel: str = AuditEntry.Channel.ADMIN,
) -> OutOfRegionFiling:
    """End a filing on `valid_to` (its last valid day). Only ever earlier than it stood: a
    longer stay is a new filing."""
    with transaction.atomic():
        locked = (
            OutOfRegionFiling.objects.select_for_update(of=("self",))
            .select_related("care_region", "person")
            .get(pk=filing.pk)
        )
        out_of_region_filing_end_check(filing=locked, valid_to=valid_to)
        if locked.valid_to == valid_to:
            return locked
        before = _snapshot(locked)
        locked.valid_to = valid_to
        locked.save(update_fields=["valid_to"])
        audit_record(
            actor=actor,
            channel=channel,
            action="filing.end",
            obj=locked,
            person=locked.person,
            before=before,
            after=_snapshot(locked),
        )
    return locked
