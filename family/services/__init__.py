"""Every write of the family app (DOMAIN.md R1–R10, R14, R15, R20–R22).

Each service is one transaction, audits what it changes (R20) and raises `ValidationError` with a
module-level message naming the rule. The database constraints in `models.py` are the guarantee
behind the friendly checks here. Rows that two requests could race on are locked with
`select_for_update(no_key=True)` in ascending id order (persons first, then authorizations).
NO KEY: rows that settlement and premium lines reference take only FOR KEY SHARE from those
inserts, which FOR UPDATE would block (and deadlock against); we never change a key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEntry, InsuredPerson, Notification, RegionPolicy, User
from accounts.services import audit_record, notifications_send, person_snapshot, snapshot

from .. import hooks, letters
from ..models import Authorization, CommitmentLetter, Guardianship, Relation, Relationship
from ..selectors import deduction_order_for
from ..verification import get_verifier
from . import notify
from .signatures import (  # noqa: F401 (re-exported)
    MAX_SIGNATURE_BYTES,
    MAX_SIGNATURE_HEIGHT,
    MAX_SIGNATURE_WIDTH,
    SIGNATURE_IMAGE_INVALID,
    SIGNATURE_IMAGE_TOO_LARGE,
    signature_image_clean,
    signature_image_shown,
)

Status = Authorization.Status
Kind = Notification.Kind
Person = InsuredPerson

# R1
REL_INVALID_RELATION = _(
    "R1：关系须为配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女或外孙子女"
)
REL_SELF = _("R1：不能将本人绑定为自己的共济成员")
# R2
HOLDER_NOT_EMPLOYEE = _("R2：主账户人须为职工医保参保人")
HOLDER_NOT_NORMAL = _("R2：主账户人须为正常参保状态")
HOLDER_NO_BALANCE = _("R2：主账户人个人账户须有结余才能设立家庭共济关系")
# R3
MEMBER_NOT_FOUND = _("R3：未找到该身份证号码和姓名对应的参保人，家庭成员须为基本医疗保险参保人员")
MEMBER_NOT_NORMAL = _("R3：家庭成员须为正常参保状态")
MEMBER_OUT_OF_SCOPE = _("R3：家庭成员不在本统筹区政策规定的共济范围内（%(scope)s）")
# R4 / R5
MEMBER_ALREADY_BOUND_HERE = _("R4：该家庭成员已在您的家庭共济关系中")
MEMBER_DUPLICATED = _("同一家庭成员只能填写一次")
MEMBER_IN_OTHER_RELATIONSHIP = _(
    "R5：该家庭成员已加入其他家庭共济关系，按本统筹区政策只能加入一个，须先退出后再加入"
)
MEMBER_IS_HOLDER_ELSEWHERE = _(
    "R5：该家庭成员已设立本人的家庭共济关系，按本统筹区政策每人只能加入一个家庭共济关系"
)
HOLDER_IS_MEMBER_ELSEWHERE = _(
    "R5：您已是其他家庭共济关系的共济成员，按本统筹区政策只能加入一个，须先退出后再设立"
)
NO_MEMBERS = _("请至少添加一名家庭成员")
# R6
WINDOW_START_PAST = _("R6：授权开始时间不得早于当前时间")
WINDOW_END_NOT_AFTER_START = _("R6：授权结束时间须晚于开始时间")
WINDOW_END_PAST = _("R6：授权结束时间须晚于当前时间")
WINDOW_TOO_LONG = _("R6：授权期限不能超过本统筹区规定的%(days)s天")
WINDOW_END_REQUIRED = _("R6：本统筹区规定授权须设置结束时间（最长%(days)s天）")
# R7
SIGNATURE_NAME_MISMATCH = _("R7：签名须与主账户人登记的姓名完全一致")
LETTER_CHANGED = _("R7：承诺书内容已发生变化，请重新阅读后再签署")
NOT_THE_HOLDER = _("R7/R22：承诺书只能由主账户人本人签署")
# R8
CONSENT_NOT_PENDING = _("R8：该授权不在待确认状态")
CONSENT_LAPSED = _("R8：确认期限已过，该绑定请求已失效")
CONSENT_NOT_YOURS = _("R8/R22：只有共济成员本人或其监护人可以答复")
CONSENT_VERIFICATION_FAILED = _("R8：身份核验未通过，密码错误")
CONSENT_GUARDIAN_REQUIRED = _("R22：该成员无民事行为能力，须由监护人代为答复")
# R10
ORDER_NOT_ALLOWED = _("R10：扣款顺序由共济成员本人设置；未成年成员由其主账户人或监护人设置")
ORDER_MISMATCH = _("R10：扣款顺序须包含该成员全部有效授权，且每个授权只出现一次")
# R14 / R15
NOT_LIVE = _("R15：该授权已终止，无法再操作")
STATUS_UNCHANGED = _("R14：参保状态未变化")
STAFF_CHANNEL_ONLY = _("R18/R20：经办窗口和管理后台只能由经办人员办理")
# R21
MEMBERS_AT_ONCE_CAP = _("R21：本统筹区规定同时绑定的共济成员不超过%(cap)s人")
MEMBERS_LIFETIME_CAP = _("R21：本统筹区规定累计绑定的共济成员不超过%(cap)s人（同一人只计一次）")
CAP_INVALID = _("R21：单笔支付上限须为大于0、最多两位小数的金额")
# R22
GUARDIAN_SELF = _("R22：监护人不能是本人")


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


# ---------------------------------------------------------------------------------------------
# helpers


def _now(at: dt.datetime | None) -> dt.datetime:
    return at if at is not None else timezone.now()


def _granted_status(window_start: dt.datetime, at: dt.datetime) -> str:
    """Granted and signed: ACTIVE from its start, SCHEDULED before it."""
    return Status.ACTIVE if window_start <= at else Status.SCHEDULED


def _tell_granted_or_asked(authorization: Authorization, *, at: dt.datetime) -> None:
    """A new binding: the member is asked (R8), or both sides learn it has started. A binding
    that starts later is told by `authorizations_activate` when it does."""
    if authorization.status == Status.PENDING_CONSENT:
        notices = notify.for_authorization(
            authorization, kind=Kind.CONSENT_REQUESTED, event="consent_requested", holder=False
        )
        # R22: a registered guardian answers for the ward, so the guardian is asked too.
        day = _local_date(at)
        guardian_ids = (
            Guardianship.objects.valid_on(day)
            .filter(ward=authorization.member)
            .values_list("guardian_id", flat=True)
        )
        notices += notify.for_guardians(notices[0], guardian_ids)
    elif authorization.status == Status.ACTIVE:
        notices = notify.for_authorization(authorization, kind=Kind.STARTED, event="started")
    else:
        return
    notifications_send(notices=notices, at=at)


def age_on(person: InsuredPerson, day: dt.date) -> int:
    born = person.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _local_date(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date()


def _lock_persons(persons: Iterable[InsuredPerson]) -> dict[int, InsuredPerson]:
    """Lock person rows in ascending id order and return fresh copies (statuses re-read)."""
    ids = sorted({p.pk for p in persons})
    rows = (
        InsuredPerson.objects.select_for_update(no_key=True, of=("self",))
        .select_related("region", "user")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {p.pk: p for p in rows}


def _lock_authorization(authorization: Authorization) -> Authorization:
    return (
        Authorization.objects.select_for_update(no_key=True, of=("self",))
        .select_related("holder__region", "member__region", "relationship")
        .get(pk=authorization.pk)
    )


def _audit_authorization(
    authorization: Authorization,
    *,
    action: str,
    actor: User | None,
    channel: str,
    before: dict | None,
) -> None:
    after = snapshot(authorization)
    # The entry names the member; the holder's history finds it through the authorization (R20).
    audit_record(
        actor=actor,
        channel=channel,
        action=action,
        obj=authorization,
        person=authorization.member,
        before=before,
        after=after,
    )


def _end_authorization(
    authorization: Authorization,
    *,
    status: str,
    at: dt.datetime,
    actor: User | None,
    channel: str,
    action: str,
    note: str = "",
) -> None:
    before = snapshot(authorization)
    authorization.status = status
    authorization.ended_at = at
    authorization.end_note = note[:200]
    authorization.deduction_position = None
    authorization.save(update_fields=["status", "ended_at", "end_note", "deduction_position"])
    _audit_authorization(authorization, action=action, actor=actor, channel=channel, before=before)
    # R14/R15: both sides are told.
    notifications_send(
        notices=notify.for_authorization(
            authorization, kind=Kind.ENDED, event="ended", reason=Status(status).label
        ),
        at=at,
    )


def _end_relationship(
    relationship: Relationship,
    *,
    reason: str,
    at: dt.datetime,
    actor: User | None,
    channel: str,
    note: str = "",
) -> None:
    before = snapshot(relationship)
    relationship.status = Relationship.Status.ENDED
    relationship.ended_at = at
    relationship.end_reason = reason
    relationship.save(update_fields=["status", "ended_at", "end_reason"])
    after = snapshot(relationship)
    if note:
        after["note"] = note
    audit_record(
        actor=actor,
        channel=channel,
        action="relationship.end",
        obj=relationship,
        person=relationship.holder,
        before=before,
        after=after,
    )


def _end_relationship_if_empty(
    relationship: Relationship, *, at: dt.datetime, actor: User | None, channel: str
) -> None:
    """A relationship with no live member left ends (so that, under an exclusive policy, the
    holder is free to join another one, R5)."""
    relationship = Relationship.objects.select_for_update(no_key=True).get(pk=relationship.pk)
    if relationship.status != Relationship.Status.ACTIVE:
        return
    if not relationship.authorizations.live().exists():
        _end_relationship(
            relationship,
            reason=Relationship.EndReason.NO_MEMBERS,
            at=at,
            actor=actor,
            channel=channel,
        )


def person_acts_for(*, actor_person: InsuredPerson, member: InsuredPerson, at: dt.datetime) -> bool:
    """R22: a registered guardian, valid on the day, acts for the member."""
    day = _local_date(at)
    return Guardianship.objects.valid_on(day).filter(guardian=actor_person, ward=member).exists()


def _needs_guardian(member: InsuredPerson, at: dt.datetime) -> bool:
    """An adult without legal capacity has a court- or agreement-based guardianship on file."""
    day = _local_date(at)
    return (
        Guardianship.objects.valid_on(day)
        .filter(ward=member, basis__in=[Guardianship.Basis.COURT, Guardianship.Basis.AGREEMENT])
        .exists()
    )


# ---------------------------------------------------------------------------------------------
# binding (R1–R7, R21)


def _check_holder(holder: InsuredPerson, *, at: dt.datetime) -> None:
    if holder.scheme != InsuredPerson.Scheme.EMPLOYEE:
        raise ValidationError(HOLDER_NOT_EMPLOYEE, code="R2")
    if holder.status != InsuredPerson.Status.NORMAL:
        raise ValidationError(HOLDER_NOT_NORMAL, code="R2")


def _check_holder_balance(holder: InsuredPerson) -> None:
    balance = hooks.holder_balance(holder)
    if balance is not None and balance <= 0:
        raise ValidationError(HOLDER_NO_BALANCE, code="R2")


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
        raise ValidationError(WINDOW_START_PAST, code="R6")
    if end is not None and end <= effective_start:
        raise ValidationError(WINDOW_END_NOT_AFTER_START, code="R6")
    if end is not None and end <= at:
        raise ValidationError(WINDOW_END_PAST, code="R6")
    if policy.max_window_days:
        if end is None:
            raise ValidationError(
                WINDOW_END_REQUIRED, code="R6", params={"days": policy.max_window_days}
            )
        if end - effective_start > dt.timedelta(days=policy.max_window_days):
            raise ValidationError(
                WINDOW_TOO_LONG, code="R6", params={"days": policy.max_window_days}
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
        raise ValidationError(REL_INVALID_RELATION, code="R1")
    if member.pk == holder.pk:
        raise ValidationError(REL_SELF, code="R1")
    if member.status != InsuredPerson.Status.NORMAL:
        raise ValidationError(MEMBER_NOT_NORMAL, code="R3")
    if not _in_scope(policy, holder, member):
        raise ValidationError(
            MEMBER_OUT_OF_SCOPE,
            code="R3",
            params={"scope": RegionPolicy.MemberScope(policy.member_scope).label},
        )
    live = Authorization.objects.live().filter(member=member)
    if relationship is not None and live.filter(relationship=relationship).exists():
        raise ValidationError(MEMBER_ALREADY_BOUND_HERE, code="R4")
    # R5: under an exclusive policy a person is in one relationship only, as member or holder.
    others = live.exclude(holder=holder)
    if others.filter(exclusive=True).exists() or (
        not policy.member_in_several_relationships and others.exists()
    ):
        raise ValidationError(MEMBER_IN_OTHER_RELATIONSHIP, code="R5")
    if (
        not policy.member_in_several_relationships
        and Relationship.objects.filter(holder=member, status=Relationship.Status.ACTIVE).exists()
    ):
        raise ValidationError(MEMBER_IS_HOLDER_ELSEWHERE, code="R5")
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
                MEMBERS_AT_ONCE_CAP, code="R21", params={"cap": policy.max_members_at_once}
            )
    if policy.max_members_lifetime is not None:
        ever = set(
            Authorization.objects.filter(holder=holder)
            .exclude(status__in=[Status.DECLINED, Status.LAPSED])
            .values_list("member_id", flat=True)
        )
        if len(ever | {m.pk for m in new_members}) > policy.max_members_lifetime:
            raise ValidationError(
                MEMBERS_LIFETIME_CAP, code="R21", params={"cap": policy.max_members_lifetime}
            )


def bind_check(
    *, holder: InsuredPerson, members: Sequence[MemberRequest], at: dt.datetime | None = None
) -> list[ValidationError | None]:
    """Dry run of R1–R6 and R21 for the wizard's first step: one error (or None) per member.
    Holder-level problems are raised, not listed."""
    at = _now(at)
    policy = holder.region
    _check_holder(holder, at=at)
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
                raise ValidationError(MEMBER_DUPLICATED, code="duplicate")
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
        raise ValidationError(HOLDER_IS_MEMBER_ELSEWHERE, code="R5")


def _check_signature(holder: InsuredPerson, signature: Signature) -> Signature:
    """The signature to record: the typed name as registered, and the drawing re-encoded
    (`signature_image_clean`: a bounded, complete PNG, never the bytes as sent)."""
    if signature.name.strip() != holder.name:
        raise ValidationError(SIGNATURE_NAME_MISMATCH, code="R7")
    return replace(signature, image=signature_image_clean(signature.image))


def _check_channel(actor: User | None, channel: str) -> None:
    """Only staff act through the counter or the admin, and only the system acts without a login:
    a citizen's request is always the online channel, whatever a caller passes."""
    if channel == AuditEntry.Channel.ONLINE:
        if actor is None or not actor.is_authenticated:
            raise ValidationError(STAFF_CHANNEL_ONLY, code="channel")
        return
    if actor is not None and not actor.is_staff:
        raise ValidationError(STAFF_CHANNEL_ONLY, code="channel")


def _check_actor_is_holder(holder: InsuredPerson, actor: User, channel: str) -> None:
    """R7/R22: online, only the holder's own login signs; at the counter, staff act for a holder
    who signs on paper (issue 6)."""
    if channel == AuditEntry.Channel.ONLINE and (
        holder.user_id is None or actor.pk != holder.user_id
    ):
        raise ValidationError(NOT_THE_HOLDER, code="R7")
    if channel == AuditEntry.Channel.COUNTER and not actor.is_staff:
        raise ValidationError(NOT_THE_HOLDER, code="R7")


def letter_kind_for(holder: InsuredPerson, channel: str) -> str:
    policy = holder.region
    if channel == AuditEntry.Channel.COUNTER:
        return policy.counter_agreement
    return policy.online_letter


def _letter_lines(
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
        lines=_letter_lines(relationship, new=members),
    )


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
        raise ValidationError(LETTER_CHANGED, code="R7")
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


def _needs_consent(policy: RegionPolicy, request: MemberRequest, at: dt.datetime) -> bool:
    """R8 (consent age) and R21 (spouse confirmation where the policy asks for it)."""
    if request.relation == Relation.SPOUSE and policy.spouse_confirmation:
        return True
    if policy.consent_age is None:
        return False
    return age_on(request.person, _local_date(at)) >= policy.consent_age


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
        raise ValidationError(NO_MEMBERS, code="empty")
    with transaction.atomic():
        at = _now(at)
        locked = _lock_persons([holder, *(m.person for m in members)])
        holder = locked[holder.pk]
        members = [
            MemberRequest(locked[m.person.pk], m.relation, m.window_start, m.window_end)
            for m in members
        ]
        _check_actor_is_holder(holder, actor, channel)
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
        lines = _letter_lines(relationship, new=members)

        created = []
        for request in members:
            consent = _needs_consent(policy, request, at)
            authorization = Authorization(
                relationship=relationship,
                holder=holder,
                member=request.person,
                relation=request.relation,
                window_start=request.window_start or at,
                window_end=request.window_end,
                status=Status.PENDING_CONSENT
                if consent
                else _granted_status(request.window_start or at, at),
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
                raise ValidationError(MEMBER_IN_OTHER_RELATIONSHIP, code="R5") from exc
            _audit_authorization(
                authorization,
                action="authorization.create",
                actor=actor,
                channel=channel,
                before=None,
            )
            _tell_granted_or_asked(authorization, at=at)
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
        lines=_letter_lines(
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
    at = _now(at)
    policy = authorization.holder.region
    if window_start is None:
        start = authorization.window_start
        if window_end is not None and window_end <= start:
            raise ValidationError(WINDOW_END_NOT_AFTER_START, code="R6")
        # Before `_check_window`, which would call an end before now "not after the start".
        if window_end is not None and window_end <= at:
            raise ValidationError(WINDOW_END_PAST, code="R6")
        _check_window(policy, None, window_end, at=max(at, start))
        # R6/R21: a capped window is measured from its real start, not from now.
        if (
            policy.max_window_days
            and window_end is not None
            and window_end - start > dt.timedelta(days=policy.max_window_days)
        ):
            raise ValidationError(
                WINDOW_TOO_LONG, code="R6", params={"days": policy.max_window_days}
            )
        return start
    _check_window(policy, window_start, window_end, at=at)
    return window_start


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
        at = _now(at)
        # Persons before authorizations, as everywhere (payments share-lock both in that order).
        holder = _lock_persons([authorization.holder])[authorization.holder_id]
        authorization = _lock_authorization(authorization)
        if not authorization.is_live:
            raise ValidationError(NOT_LIVE, code="R15")
        _check_actor_is_holder(holder, actor, channel)
        signature = _check_signature(holder, signature)
        _check_holder(holder, at=at)
        start = window_change_check(
            authorization=authorization, window_start=window_start, window_end=window_end, at=at
        )
        lines = _letter_lines(
            authorization.relationship, replaced={authorization.pk: (start, window_end)}
        )
        before = snapshot(authorization)
        authorization.window_start = start
        authorization.window_end = window_end
        if authorization.status in Authorization.GRANTED_STATUSES:
            authorization.status = _granted_status(start, at)
        authorization.save(update_fields=["window_start", "window_end", "status"])
        _audit_authorization(
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


# ---------------------------------------------------------------------------------------------
# consent (R8, R22)


def authorization_answer(
    *,
    authorization: Authorization,
    agree: bool,
    actor: User,
    evidence: str,
    at: dt.datetime | None = None,
) -> Authorization:
    """The member (or their guardian, R22) agrees or declines after re-verifying identity."""
    with transaction.atomic():
        at = _now(at)
        authorization = _lock_authorization(authorization)
        member = authorization.member
        actor_person = InsuredPerson.objects.filter(user=actor).first()
        is_member = actor_person is not None and actor_person.pk == member.pk
        is_guardian = actor_person is not None and person_acts_for(
            actor_person=actor_person, member=member, at=at
        )
        if not (is_member or is_guardian):
            raise ValidationError(CONSENT_NOT_YOURS, code="R8")
        if is_member and not is_guardian and _needs_guardian(member, at):
            raise ValidationError(CONSENT_GUARDIAN_REQUIRED, code="R22")
        if authorization.status != Status.PENDING_CONSENT:
            raise ValidationError(CONSENT_NOT_PENDING, code="R8")
        if authorization.consent_deadline is not None and at > authorization.consent_deadline:
            raise ValidationError(CONSENT_LAPSED, code="R8")
        if not get_verifier().verify(user=actor, evidence=evidence):
            raise ValidationError(CONSENT_VERIFICATION_FAILED, code="verification_failed")
        before = snapshot(authorization)
        authorization.answered_at = at
        authorization.answered_by = actor
        if agree:
            authorization.status = _granted_status(authorization.window_start, at)
            authorization.save(update_fields=["status", "answered_at", "answered_by"])
            action = "authorization.consent"
        else:
            authorization.status = Status.DECLINED
            authorization.ended_at = at
            authorization.save(update_fields=["status", "answered_at", "answered_by", "ended_at"])
            action = "authorization.decline"
        _audit_authorization(
            authorization,
            action=action,
            actor=actor,
            channel=AuditEntry.Channel.ONLINE,
            before=before,
        )
        if agree:
            _tell_granted_or_asked(authorization, at=at)
        else:
            notifications_send(
                notices=notify.for_authorization(
                    authorization, kind=Kind.ENDED, event="ended", reason=Status.DECLINED.label
                ),
                at=at,
            )
        if not agree:
            _end_relationship_if_empty(
                authorization.relationship, at=at, actor=actor, channel=AuditEntry.Channel.ONLINE
            )
    return authorization


# ---------------------------------------------------------------------------------------------
# revoke, leave, end (R15)


def authorization_revoke(
    *,
    authorization: Authorization,
    actor: User,
    channel: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Authorization:
    """R15: the holder revokes a member at any time."""
    _check_channel(actor, channel)
    with transaction.atomic():
        at = _now(at)
        authorization = _lock_authorization(authorization)
        if channel == AuditEntry.Channel.ONLINE and actor.pk != authorization.holder.user_id:
            raise ValidationError(NOT_THE_HOLDER, code="R15")
        if not authorization.is_live:
            raise ValidationError(NOT_LIVE, code="R15")
        _end_authorization(
            authorization,
            status=Status.REVOKED,
            at=at,
            actor=actor,
            channel=channel,
            action="authorization.revoke",
            note=reason,
        )
        _end_relationship_if_empty(authorization.relationship, at=at, actor=actor, channel=channel)
    return authorization


def authorization_leave(
    *, authorization: Authorization, actor: User, channel: str, at: dt.datetime | None = None
) -> Authorization:
    """R15: the member (or their guardian, R22) leaves a relationship."""
    _check_channel(actor, channel)
    with transaction.atomic():
        at = _now(at)
        authorization = _lock_authorization(authorization)
        if channel == AuditEntry.Channel.ONLINE:
            actor_person = InsuredPerson.objects.filter(user=actor).first()
            if actor_person is None or not (
                actor_person.pk == authorization.member_id
                or person_acts_for(actor_person=actor_person, member=authorization.member, at=at)
            ):
                raise ValidationError(CONSENT_NOT_YOURS, code="R15")
        if not authorization.is_live:
            raise ValidationError(NOT_LIVE, code="R15")
        _end_authorization(
            authorization,
            status=Status.LEFT,
            at=at,
            actor=actor,
            channel=channel,
            action="authorization.leave",
        )
        _end_relationship_if_empty(authorization.relationship, at=at, actor=actor, channel=channel)
    return authorization


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
    _check_channel(actor, channel)
    with transaction.atomic():
        at = _now(at)

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
            raise ValidationError(NOT_THE_HOLDER, code="R15")
        if relationship.status != Relationship.Status.ACTIVE:
            raise ValidationError(NOT_LIVE, code="R15")
        # Read again under the relationship's lock: a member bound meanwhile is ended too.
        for authorization in live_members():
            _end_authorization(
                authorization,
                status=Status.REVOKED,
                at=at,
                actor=actor,
                channel=channel,
                action="authorization.revoke",
                note=note,
            )
        _end_relationship(
            relationship, reason=reason, at=at, actor=actor, channel=channel, note=note
        )
    return relationship


# ---------------------------------------------------------------------------------------------
# deduction order (R10) and per-member cap (R21)


def may_set_order(*, actor_person: InsuredPerson, member: InsuredPerson, at: dt.datetime) -> bool:
    """R10/R22: the member; for a minor, a holder who binds them; a registered guardian."""
    if actor_person.pk == member.pk:
        return not _needs_guardian(member, at)
    if person_acts_for(actor_person=actor_person, member=member, at=at):
        return True
    is_minor = age_on(member, _local_date(at)) < 18
    return (
        is_minor
        and Authorization.objects.live().filter(holder=actor_person, member=member).exists()
    )


def deduction_order_set(
    *,
    member: InsuredPerson,
    ordered: Sequence[Authorization],
    actor: User,
    channel: str,
    at: dt.datetime | None = None,
) -> None:
    """R10: positions 1..n over all of the member's live authorizations, in the given order."""
    _check_channel(actor, channel)
    with transaction.atomic():
        at = _now(at)
        member = _lock_persons([member])[member.pk]
        if channel == AuditEntry.Channel.ONLINE:
            actor_person = InsuredPerson.objects.filter(user=actor).first()
            if actor_person is None or not may_set_order(
                actor_person=actor_person, member=member, at=at
            ):
                raise ValidationError(ORDER_NOT_ALLOWED, code="R10")
        live = {
            a.pk: a
            for a in Authorization.objects.live()
            .select_for_update(no_key=True)
            .filter(member=member)
            .order_by("pk")
        }
        wanted = [a.pk for a in ordered]
        if sorted(wanted) != sorted(live) or len(set(wanted)) != len(wanted):
            raise ValidationError(ORDER_MISMATCH, code="R10")
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
        raise ValidationError(ORDER_MISMATCH, code="R10")
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
        raise ValidationError(CAP_INVALID, code="R21")
    _check_channel(actor, channel)
    with transaction.atomic():
        authorization = _lock_authorization(authorization)
        if channel == AuditEntry.Channel.ONLINE and actor.pk != authorization.holder.user_id:
            raise ValidationError(NOT_THE_HOLDER, code="R21")
        if not authorization.is_live:
            raise ValidationError(NOT_LIVE, code="R15")
        before = snapshot(authorization)
        authorization.payment_cap = cap
        authorization.save(update_fields=["payment_cap"])
        _audit_authorization(
            authorization, action="authorization.cap", actor=actor, channel=channel, before=before
        )
    return authorization


# ---------------------------------------------------------------------------------------------
# insured status changes (R14) and guardians (R22)

ENDING_STATUSES = (InsuredPerson.Status.TRANSFERRED, InsuredPerson.Status.TERMINATED)


def person_status_change(
    *,
    person: InsuredPerson,
    status: str,
    reason: str,
    actor: User | None,
    channel: str,
    at: dt.datetime | None = None,
) -> InsuredPerson:
    """R14: change a person's insured status. Transfer out or termination ends, at once, every
    live authorization involving them (as holder or member) and the relationships they hold.
    Suspension ends nothing; use-time checks refuse the account while it lasts."""
    if channel == AuditEntry.Channel.ONLINE:  # the bureau changes insured status, not citizens
        raise ValidationError(STAFF_CHANNEL_ONLY, code="channel")
    _check_channel(actor, channel)
    with transaction.atomic():
        at = _now(at)
        person = _lock_persons([person])[person.pk]
        if person.status == status:
            raise ValidationError(STATUS_UNCHANGED, code="R14")
        before = person_snapshot(person)
        person.status = status
        person.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            channel=channel,
            action="person.status_change",
            obj=person,
            person=person,
            before={**before, "reason": reason},
            after=person_snapshot(person),
        )
        if status in ENDING_STATUSES:
            person_relationships_terminate(person=person, actor=actor, channel=channel, at=at)
    return person


def person_relationships_terminate(
    *, person: InsuredPerson, actor: User | None, channel: str, at: dt.datetime
) -> int:
    """R14: end the live authorizations and held relationships of a transferred/terminated person.
    Idempotent: returns how many authorizations it ended (0 on a second run)."""
    note = str(_("R14：参保关系转出或终止"))
    affected = list(
        Authorization.objects.live()
        .select_for_update(no_key=True, of=("self",))
        .select_related("holder", "member", "relationship")
        .filter(Q(holder=person) | Q(member=person))
        .order_by("pk")
    )
    for authorization in affected:
        _end_authorization(
            authorization,
            status=Status.TERMINATED,
            at=at,
            actor=actor,
            channel=channel,
            action="authorization.terminate",
            note=note,
        )
    for relationship in Relationship.objects.select_for_update(no_key=True).filter(
        holder=person, status=Relationship.Status.ACTIVE
    ):
        _end_relationship(
            relationship,
            reason=Relationship.EndReason.HOLDER_STATUS,
            at=at,
            actor=actor,
            channel=channel,
        )
    for relationship in {a.relationship for a in affected if a.relationship.holder_id != person.pk}:
        _end_relationship_if_empty(relationship, at=at, actor=actor, channel=channel)
    return len(affected)


def guardianship_register(
    *,
    guardian: InsuredPerson,
    ward: InsuredPerson,
    basis: str,
    document: str,
    valid_from: dt.date,
    valid_until: dt.date | None,
    actor: User,
    channel: str,
) -> Guardianship:
    """R22: the bureau records a guardian from documents it has seen."""
    if guardian.pk == ward.pk:
        raise ValidationError(GUARDIAN_SELF, code="R22")
    with transaction.atomic():
        guardianship = Guardianship(
            guardian=guardian,
            ward=ward,
            basis=basis,
            document=document,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        guardianship.full_clean()
        guardianship.save()
        audit_record(
            actor=actor,
            channel=channel,
            action="guardianship.register",
            obj=guardianship,
            person=ward,
            after=snapshot(guardianship),
        )
    return guardianship


# Counter binding (issue 6), re-exported like the lifecycle below (names: counter.__all__).
from .counter import *  # noqa: E402, F403

# Scheduled lifecycle (issue 5), re-exported so callers import every family write from here.
from .lifecycle import (  # noqa: E402, F401
    authorizations_activate,
    authorizations_expire,
    consents_lapse,
    expiry_reminders_send,
    lifecycle_run,
    relationships_orphaned_end,
    statuses_reconcile,
)
