"""The member's deduction order (R10) and the holder's single-payment cap for a member (R21)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import AuditEntry, InsuredPerson, Notification, User
from accounts.services import audit_record, snapshot

from ..clock import at_or_now
from ..errors import CAP_INVALID, NOT_LIVE, NOT_THE_HOLDER, ORDER_MISMATCH, ORDER_NOT_ALLOWED
from ..models import Authorization
from ..selectors import deduction_order_for
from ..selectors.checks import check_channel, may_set_order
from .common import audit_authorization, lock_authorization, lock_persons

Status = Authorization.Status
Kind = Notification.Kind


def deduction_order_set(
    *,
    member: InsuredPerson,
    ordered: Sequence[Authorization],
    actor: User,
    channel: str,
    at: dt.datetime | None = None,
) -> None:
    """R10: positions 1..n over all of the member's live authorizations, in the given order."""
    check_channel(actor, channel)
    with transaction.atomic():
        at = at_or_now(at)
        member = lock_persons([member])[member.pk]
        if channel == AuditEntry.Channel.ONLINE:
            actor_person = InsuredPerson.objects.filter(user=actor).first()
            if actor_person is None or not may_set_order(
                actor_person=actor_person, member=member, at=at
            ):
                raise ValidationError(ORDER_NOT_ALLOWED, code="order_not_allowed")
        live = {
            a.pk: a
            for a in Authorization.objects.live()
            .select_for_update(no_key=True)
            .filter(member=member)
            .order_by("pk")
        }
        wanted = [a.pk for a in ordered]
        if sorted(wanted) != sorted(live) or len(set(wanted)) != len(wanted):
            raise ValidationError(ORDER_MISMATCH, code="order_mismatch")
        before = {str(live[pk].public_id): live[pk].deduction_position for pk in wanted}
        # Clear first: the unique position constraint must hold after every statement.
        Authorization.objects.filter(pk__in=wanted).update(deduction_position=None)
        for position, pk in enumerate(wanted, start=1):
            Authorization.objects.filter(pk=pk).update(deduction_position=position)
        after = {str(live[pk].public_id): n for n, pk in enumerate(wanted, start=1)}
        audit_record(
            actor=actor,
            channel=channel,
            action="member.deduction_order",
            obj=member,
            person=member,
            before=before,
            after=after,
        )


def deduction_order_move(
    *,
    authorization: Authorization,
    direction: int,
    actor: User,
    channel: str,
    at: dt.datetime | None = None,
) -> None:
    """Move one holder up (-1) or down (+1) in the member's current order (the no-JS page)."""
    current = deduction_order_for(member=authorization.member)
    pks = [a.pk for a in current]
    if authorization.pk not in pks:
        raise ValidationError(ORDER_MISMATCH, code="order_mismatch")
    i = pks.index(authorization.pk)
    j = i + direction
    if 0 <= j < len(current):
        current[i], current[j] = current[j], current[i]
    deduction_order_set(
        member=authorization.member, ordered=current, actor=actor, channel=channel, at=at
    )


def authorization_cap_set(
    *,
    authorization: Authorization,
    cap: Decimal | None,
    actor: User,
    channel: str,
) -> Authorization:
    """R21 (Shanxi): the holder's optional single-payment cap for one member."""
    # NaN/Infinity and amounts past the column's 14 digits are refused here, not by Decimal or
    # the database raising something other than a ValidationError.
    if cap is not None and (
        not cap.is_finite()
        or cap <= 0
        or cap >= Decimal("1e12")
        or cap != cap.quantize(Decimal("0.01"))
    ):
        raise ValidationError(CAP_INVALID, code="cap_invalid")
    check_channel(actor, channel)
    with transaction.atomic():
        authorization = lock_authorization(authorization)
        if channel == AuditEntry.Channel.ONLINE and actor.pk != authorization.holder.user_id:
            raise ValidationError(NOT_THE_HOLDER, code="not_the_holder")
        if not authorization.is_live:
            raise ValidationError(NOT_LIVE, code="not_live")
        before = snapshot(authorization)
        authorization.payment_cap = cap
        authorization.save(update_fields=["payment_cap"])
        audit_authorization(
            authorization, action="authorization.cap", actor=actor, channel=channel, before=before
        )
    return authorization
