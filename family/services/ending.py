"""Revoke, leave and end (R15): an authorization or a relationship ends at once, both sides are
told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import AuditEntry, InsuredPerson, Notification, User

from ..clock import at_or_now
from ..errors import CONSENT_NOT_YOURS, NOT_LIVE, NOT_THE_HOLDER
from ..models import Authorization, Relationship
from ..selectors.checks import check_channel, person_acts_for
from .common import (
    end_authorization,
    end_relationship,
    end_relationship_if_empty,
    lock_authorization,
)

Status = Authorization.Status
Kind = Notification.Kind


def _end_live(
    authorization: Authorization,
    *,
    actor: User,
    channel: str,
    at: dt.datetime | None,
    status: str,
    action: str,
    check_online_actor: Callable[[Authorization, dt.datetime], None],
    note: str = "",
) -> Authorization:
    """End one live authorization at once (R15): locked, the online actor checked, both sides
    told, and the relationship ended with its last member."""
    check_channel(actor, channel)
    with transaction.atomic():
        at = at_or_now(at)
        authorization = lock_authorization(authorization)
        if channel == AuditEntry.Channel.ONLINE:
            check_online_actor(authorization, at)
        if not authorization.is_live:
            raise ValidationError(NOT_LIVE, code="not_live")
        end_authorization(
            authorization,
            status=status,
            at=at,
            actor=actor,
            channel=channel,
            action=action,
            note=note,
        )
        end_relationship_if_empty(authorization.relationship, at=at, actor=actor, channel=channel)
    return authorization


def authorization_revoke(
    *,
    authorization: Authorization,
    actor: User,
    channel: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Authorization:
    """R15: the holder revokes a member at any time."""

    def the_holder(authorization: Authorization, at: dt.datetime) -> None:
        if actor.pk != authorization.holder.user_id:
            raise ValidationError(NOT_THE_HOLDER, code="not_the_holder")

    return _end_live(
        authorization,
        actor=actor,
        channel=channel,
        at=at,
        status=Status.REVOKED,
        action="authorization.revoke",
        check_online_actor=the_holder,
        note=reason,
    )


def authorization_leave(
    *, authorization: Authorization, actor: User, channel: str, at: dt.datetime | None = None
) -> Authorization:
    """R15: the member (or their guardian, R22) leaves a relationship."""

    def the_member_or_guardian(authorization: Authorization, at: dt.datetime) -> None:
        actor_person = InsuredPerson.objects.filter(user=actor).first()
        if actor_person is None or not (
            actor_person.pk == authorization.member_id
            or person_acts_for(actor_person=actor_person, member=authorization.member, at=at)
        ):
            raise ValidationError(CONSENT_NOT_YOURS, code="consent_not_yours")

    return _end_live(
        authorization,
        actor=actor,
        channel=channel,
        at=at,
        status=Status.LEFT,
        action="authorization.leave",
        check_online_actor=the_member_or_guardian,
    )


def relationship_end(
    *,
    relationship: Relationship,
    actor: User,
    channel: str,
    reason: str = Relationship.EndReason.HOLDER_ENDED,
    note: str = "",
    at: dt.datetime | None = None,
) -> Relationship:
    """The holder (or staff) ends the whole relationship: every live member is revoked. `note`
    (the counter clerk's words) goes on each ended authorization and in the audit entry."""
    check_channel(actor, channel)
    with transaction.atomic():
        at = at_or_now(at)

        def live_members():
            return list(
                Authorization.objects.live()
                .select_for_update(no_key=True, of=("self",))
                .select_related("holder", "member")
                .filter(relationship_id=relationship.pk)
                .order_by("pk")
            )

        # Authorizations before their relationship, the order of every other path (the
        # scheduled passes too), so that two of them never wait for each other.
        live_members()
        relationship = (
            Relationship.objects.select_for_update(no_key=True)
            .select_related("holder")
            .get(pk=relationship.pk)
        )
        if channel == AuditEntry.Channel.ONLINE and actor.pk != relationship.holder.user_id:
            raise ValidationError(NOT_THE_HOLDER, code="not_the_holder")
        if relationship.status != Relationship.Status.ACTIVE:
            raise ValidationError(NOT_LIVE, code="not_live")
        # Read again under the relationship's lock: a member bound meanwhile is ended too.
        for authorization in live_members():
            end_authorization(
                authorization,
                status=Status.REVOKED,
                at=at,
                actor=actor,
                channel=channel,
                action="authorization.revoke",
                note=note,
            )
        end_relationship(
            relationship, reason=reason, at=at, actor=actor, channel=channel, note=note
        )
    return relationship
