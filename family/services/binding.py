"""Binding members and changing a window (R1–R8, R21), each effective with a signed commitment
letter (承诺书, R7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import replace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import InsuredPerson, Notification, User
from accounts.services import audit_record, snapshot

from .. import letters
from ..clock import at_or_now
from ..errors import (
    LETTER_CHANGED,
    MEMBER_IN_OTHER_RELATIONSHIP,
    NO_MEMBERS,
    NOT_LIVE,
    SIGNATURE_NAME_MISMATCH,
)
from ..models import Authorization, CommitmentLetter, Relationship
from ..selectors.checks import (
    MemberRequest,
    Signature,
    bind_check,
    check_actor_is_holder,
    check_holder,
    letter_kind_for,
    letter_lines,
    needs_consent,
    window_change_check,
)
from .common import (
    audit_authorization,
    granted_status,
    lock_authorization,
    lock_persons,
    tell_granted_or_asked,
)
from .signatures import signature_image_clean

Status = Authorization.Status
Kind = Notification.Kind


def _check_signature(holder: InsuredPerson, signature: Signature) -> Signature:
    """The signature to record: the typed name as registered, and the drawing re-encoded
    (`signature_image_clean`: a bounded, complete PNG, never the bytes as sent)."""
    if signature.name.strip() != holder.name:
        raise ValidationError(SIGNATURE_NAME_MISMATCH, code="signature_name_mismatch")
    return replace(signature, image=signature_image_clean(signature.image))


def _sign_letter(
    *,
    holder: InsuredPerson,
    relationship: Relationship,
    purpose: str,
    lines: list[letters.LetterLine],
    authorizations: Iterable[Authorization],
    signature: Signature,
    expected_hash: str | None,
    actor: User,
    channel: str,
    at: dt.datetime,
) -> CommitmentLetter:
    kind = letter_kind_for(holder, channel)
    version, text = letters.render(kind=kind, purpose=purpose, holder=holder, lines=lines)
    content_hash = CommitmentLetter.hash_text(text)
    if expected_hash is not None and expected_hash != content_hash:
        raise ValidationError(LETTER_CHANGED, code="letter_changed")
    letter = CommitmentLetter.objects.create(
        kind=kind,
        purpose=purpose,
        template_version=version,
        text=text,
        content_hash=content_hash,
        holder=holder,
        relationship=relationship,
        signed_at=at,
        channel=channel,
        signed_name=signature.name.strip(),
        signature_image=signature.image,
        signed_by=actor,
    )
    letter.authorizations.set(list(authorizations))
    after = snapshot(letter)
    after.pop("text", None)
    after.pop("signature_image", None)
    audit_record(
        actor=actor, channel=channel, action="letter.sign", obj=letter, person=holder, after=after
    )
    return letter


def relationship_bind(
    *,
    holder: InsuredPerson,
    members: Sequence[MemberRequest],
    signature: Signature,
    actor: User,
    channel: str,
    expected_hash: str | None = None,
    at: dt.datetime | None = None,
) -> CommitmentLetter:
    """Set up the holder's relationship (or add to it) and bind members with their windows,
    effective only with the signed letter, in one transaction (R1–R8, R21).

    Members under the consent age are active from their window start; from that age they wait
    for their own consent (R8) until the policy's days run out."""
    if not members:
        raise ValidationError(NO_MEMBERS, code="no_members")
    with transaction.atomic():
        at = at_or_now(at)
        locked = lock_persons([holder, *(m.person for m in members)])
        holder = locked[holder.pk]
        members = [
            MemberRequest(locked[m.person.pk], m.relation, m.window_start, m.window_end)
            for m in members
        ]
        check_actor_is_holder(holder, actor, channel)
        signature = _check_signature(holder, signature)
        errors = bind_check(holder=holder, members=members, at=at)
        for error in errors:
            if error is not None:
                raise error
        policy = holder.region

        relationship = (
            Relationship.objects.select_for_update(no_key=True)
            .filter(holder=holder, status=Relationship.Status.ACTIVE)
            .first()
        )
        purpose = CommitmentLetter.Purpose.ADD_MEMBERS
        if relationship is None:
            purpose = CommitmentLetter.Purpose.BIND
            relationship = Relationship.objects.create(
                holder=holder, channel=channel, created_at=at
            )
            audit_record(
                actor=actor,
                channel=channel,
                action="relationship.create",
                obj=relationship,
                person=holder,
                after=snapshot(relationship),
            )
        lines = letter_lines(relationship, new=members)

        created = []
        for request in members:
            consent = needs_consent(policy, request, at)
            authorization = Authorization(
                relationship=relationship,
                holder=holder,
                member=request.person,
                relation=request.relation,
                window_start=request.window_start or at,
                window_end=request.window_end,
                status=Status.PENDING_CONSENT
                if consent
                else granted_status(request.window_start or at, at),
                exclusive=not policy.member_in_several_relationships,
                consent_needed=consent,
                consent_deadline=at + dt.timedelta(days=policy.consent_days) if consent else None,
                created_at=at,
            )
            try:
                with transaction.atomic():
                    authorization.save()
            except IntegrityError as exc:
                # The database guarantee behind R4/R5, reached only by a concurrent request.
                raise ValidationError(
                    MEMBER_IN_OTHER_RELATIONSHIP, code="member_in_other_relationship"
                ) from exc
            audit_authorization(
                authorization,
                action="authorization.create",
                actor=actor,
                channel=channel,
                before=None,
            )
            tell_granted_or_asked(authorization, at=at)
            created.append(authorization)

        live = list(relationship.authorizations.live().order_by("pk"))
        return _sign_letter(
            holder=holder,
            relationship=relationship,
            purpose=purpose,
            lines=lines,
            authorizations=live,
            signature=signature,
            expected_hash=expected_hash,
            actor=actor,
            channel=channel,
            at=at,
        )


def authorization_window_change(
    *,
    authorization: Authorization,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
    signature: Signature,
    actor: User,
    channel: str,
    expected_hash: str | None = None,
    at: dt.datetime | None = None,
) -> CommitmentLetter:
    """R7/R15: change a member's window; a new signed letter. `window_start` None keeps the
    current start (an authorization already running keeps its start)."""
    with transaction.atomic():
        at = at_or_now(at)
        # Persons before authorizations, as everywhere (payments share-lock both in that order).
        holder = lock_persons([authorization.holder])[authorization.holder_id]
        authorization = lock_authorization(authorization)
        if not authorization.is_live:
            raise ValidationError(NOT_LIVE, code="not_live")
        check_actor_is_holder(holder, actor, channel)
        signature = _check_signature(holder, signature)
        check_holder(holder, at=at)
        start = window_change_check(
            authorization=authorization, window_start=window_start, window_end=window_end, at=at
        )
        lines = letter_lines(
            authorization.relationship, replaced={authorization.pk: (start, window_end)}
        )
        before = snapshot(authorization)
        authorization.window_start = start
        authorization.window_end = window_end
        if authorization.status in Authorization.GRANTED_STATUSES:
            authorization.status = granted_status(start, at)
        authorization.save(update_fields=["window_start", "window_end", "status"])
        audit_authorization(
            authorization,
            action="authorization.window_change",
            actor=actor,
            channel=channel,
            before=before,
        )
        live = list(authorization.relationship.authorizations.live().order_by("pk"))
        return _sign_letter(
            holder=holder,
            relationship=authorization.relationship,
            purpose=CommitmentLetter.Purpose.CHANGE_WINDOW,
            lines=lines,
            authorizations=live,
            signature=signature,
            expected_hash=expected_hash,
            actor=actor,
            channel=channel,
            at=at,
        )
