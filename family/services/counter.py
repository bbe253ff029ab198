"""Counter binding (issue 6; R7, R18, R20): staff bind members on a holder's behalf.

Steps: start -> members (the online rules, through `bind_check`) -> documents seen (an identity
card of the holder and of every member, and a relation proof the region accepts) -> print the
letter (its text and hash frozen) -> upload the scan of the wet-signed letter (checked by
content) -> submit. A binding over the region's review threshold (member count, grandparent
relations) then waits for a supervisor; otherwise, and on approval, it takes effect through
`relationship_bind` with the printed letter's hash, in the same transaction as the status change.

Each service locks the binding row (select_for_update) before anything else, is one
transaction, audits what it changes (channel counter) and is idempotent where a double submit
can reach it (start, print, submit, approve)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEntry, InsuredPerson, RelationProof, User
from accounts.selectors import region_in_staff_scope
from accounts.services import audit_record, snapshot

from ..clock import at_or_now
from ..errors import NO_MEMBERS
from ..models import CommitmentLetter, CounterBinding, CounterBindingMember, Relation, Relationship
from ..selectors.checks import MemberRequest, Signature, bind_check, letter_preview_for_binding
from .binding import relationship_bind
from .scans import (
    scan_check,
    scan_read,
)

COUNTER = AuditEntry.Channel.COUNTER
BStatus = CounterBinding.Status
Card = CounterBinding.Card

GRANDPARENT_RELATIONS = (
    Relation.PATERNAL_GRANDPARENT,
    Relation.MATERNAL_GRANDPARENT,
    Relation.PATERNAL_GRANDCHILD,
    Relation.MATERNAL_GRANDCHILD,
)

# Who may act (R18)
NOT_STAFF = _("只有经办人员可以办理窗口绑定")
OUT_OF_REGION = _("该参保人不属于您负责的统筹区")
NO_PERMISSION = _("您没有办理该事项的权限")
# State
NOT_EDITABLE = _("该柜台绑定已提交或已办结，不能再修改")
NOT_PRINTED = _("请先打印承诺书，由主账户人签字后再上传扫描件")
NOT_PENDING_REVIEW = _("该柜台绑定不在待审核状态")
CLOSED = _("该柜台绑定已办结，不能再操作")
# The codes of the refusals above: the binding is not in the state the action needs (a page shows
# them above its form, not at a field). LETTER_NOT_PRINTED is one too where submit raises it.
STATE_CODES = frozenset(
    {"not_editable", "not_printed", "not_pending_review", "closed", "letter_not_printed"}
)
MEMBER_PROBLEM = _("%(name)s：%(problem)s")
MEMBER_NOT_IN_BINDING = _("该成员不在本次办理中")
# Documents (R18)
DOCS_HOLDER_CARD_MISSING = _("须查验主账户人%(name)s的居民身份证或社会保障卡")
DOCS_MEMBER_CARD_MISSING = _("须查验家庭成员%(name)s的居民身份证或社会保障卡")
DOCS_PROOF_MISSING = _("须查验至少一种关系证明（本统筹区认可：%(proofs)s）")
DOCS_PROOF_NOT_ACCEPTED = _("本统筹区不认可以下关系证明：%(proofs)s")
DOCS_INVALID = _("材料清单无效，请重新勾选")
# Letter (R7)
LETTER_NOT_PRINTED = _("请先打印承诺书")
LETTER_CHANGED_SINCE_PRINT = _(
    "打印后承诺书内容已发生变化（如该主账户人的共济成员有变动），"
    "请重新打印，由主账户人重新签字并上传扫描件"
)
# Scan (the checks themselves: .scans)
SCAN_MISSING = _("请先上传主账户人签字的承诺书扫描件")
# Review
REVIEW_OWN = _("审核须由其他工作人员办理，不能审核本人经办的柜台绑定")
REVIEW_NO_PERMISSION = _("您没有审核柜台绑定的权限")
REJECT_REASON_REQUIRED = _("驳回时须填写原因")
REVIEW_MEMBERS_OVER = _("绑定后共济成员%(count)s人，超过本统筹区规定的%(threshold)s人")
REVIEW_GRANDPARENT = _("含祖孙关系：%(relations)s")


@dataclass(frozen=True)
class Documents:
    """What the clerk ticked: cards of the holder, cards of each member (by the member row's
    person public id, as a string), relation proofs."""

    holder: Sequence[str]
    members: dict[str, Sequence[str]]
    proofs: Sequence[str]

    def as_json(self) -> dict:
        return {
            "holder": sorted(set(self.holder)),
            "members": {key: sorted(set(value)) for key, value in sorted(self.members.items())},
            "proofs": sorted(set(self.proofs)),
        }


# ---------------------------------------------------------------------------------------------
# helpers


def _check_staff(actor: User, region_id: int, *, perm: str = "family.add_counterbinding") -> None:
    if not (actor.is_authenticated and actor.is_active and actor.is_staff):
        raise ValidationError(NOT_STAFF, code="not_staff")
    if not actor.has_perm(perm):
        raise ValidationError(NO_PERMISSION, code="no_permission")
    if not region_in_staff_scope(user=actor, region_id=region_id):
        raise ValidationError(OUT_OF_REGION, code="out_of_region")


def _lock(binding: CounterBinding) -> CounterBinding:
    return (
        CounterBinding.objects.select_for_update(no_key=True, of=("self",))
        .select_related("holder__region", "region")
        .get(pk=binding.pk)
    )


def _members(binding: CounterBinding) -> list[CounterBindingMember]:
    return list(binding.members.select_related("person__region").order_by("added_at", "id"))


def _requests(members: Sequence[CounterBindingMember]) -> list[MemberRequest]:
    """Windows start from signing (None): the moment the binding takes effect."""
    return [MemberRequest(m.person, m.relation, None, m.window_end) for m in members]


def _snapshot(binding: CounterBinding) -> dict:
    data = snapshot(binding)
    data.pop("letter_text", None)  # the hash stands for the text
    data["members"] = [
        {
            "person": str(m.person.public_id),
            "name": m.person.name,
            "id_number": m.person.masked_id_number,
            "relation": m.relation,
            "window_end": m.window_end.isoformat() if m.window_end else None,
        }
        for m in _members(binding)
    ]
    return data


def _audit(binding: CounterBinding, *, action: str, actor: User, before: dict | None) -> None:
    audit_record(
        actor=actor,
        channel=COUNTER,
        action=f"counter_binding.{action}",
        obj=binding,
        person=binding.holder,
        before=before,
        after=_snapshot(binding),
    )


def _check_editable(binding: CounterBinding) -> None:
    if not binding.is_editable:
        raise ValidationError(NOT_EDITABLE, code="not_editable")


def _back_to_draft(binding: CounterBinding) -> list[str]:
    """Members changed after printing: the printed letter and its scan no longer apply.
    Returns the fields it changed; the old scan file is removed after commit."""
    if binding.status != BStatus.LETTER_PRINTED:
        return []
    _drop_scan_after_commit(binding.scan.name)
    binding.status = BStatus.DRAFT
    binding.letter_kind = binding.letter_version = binding.letter_text = binding.letter_hash = ""
    binding.letter_printed_at = None
    _clear_scan_fields(binding)
    return [
        "status",
        "letter_kind",
        "letter_version",
        "letter_text",
        "letter_hash",
        "letter_printed_at",
        *SCAN_FIELDS,
    ]


SCAN_FIELDS = ["scan", "scan_sha256", "scan_content_type", "scan_size", "scan_uploaded_at"]


def _clear_scan_fields(binding: CounterBinding) -> None:
    binding.scan = ""
    binding.scan_sha256 = binding.scan_content_type = ""
    binding.scan_size = binding.scan_uploaded_at = None


def _drop_scan_after_commit(name: str) -> None:
    if not name:
        return
    storage = CounterBinding._meta.get_field("scan").storage
    transaction.on_commit(lambda: storage.delete(name))


def _raise_first_member_error(
    members: Sequence[MemberRequest], errors: Sequence[ValidationError | None]
) -> None:
    for request, error in zip(members, errors, strict=True):
        if error is not None:
            raise ValidationError(
                MEMBER_PROBLEM,
                code=error.code,
                params={"name": request.person.name, "problem": " ".join(error.messages)},
            )


# ---------------------------------------------------------------------------------------------
# start, members


def counter_binding_start(
    *, holder: InsuredPerson, actor: User, at: dt.datetime | None = None
) -> CounterBinding:
    """Open a counter binding for the holder, or return the one already open (a double click).
    Holder-level rules (R2, R5) are checked at once so the clerk hears them before typing."""
    _check_staff(actor, holder.region_id)
    with transaction.atomic():
        at = at_or_now(at)
        holder = (
            InsuredPerson.objects.select_for_update(no_key=True, of=("self",))
            .select_related("region")
            .get(pk=holder.pk)
        )
        existing = CounterBinding.objects.filter(
            holder=holder, status__in=CounterBinding.OPEN_STATUSES
        ).first()
        if existing is not None:
            return existing
        bind_check(holder=holder, members=[], at=at)
        binding = CounterBinding.objects.create(
            holder=holder, region=holder.region, created_by=actor, created_at=at
        )
        _audit(binding, action="start", actor=actor, before=None)
    return binding


def counter_binding_member_add(
    *,
    binding: CounterBinding,
    person: InsuredPerson,
    relation: str,
    window_end: dt.datetime | None,
    actor: User,
    at: dt.datetime | None = None,
) -> CounterBindingMember:
    """Add a member; the online rules (R1–R6, R21) through `bind_check`, with its messages."""
    _check_staff(actor, binding.region_id)
    with transaction.atomic():
        at = at_or_now(at)
        binding = _lock(binding)
        _check_editable(binding)
        members = _members(binding)
        request = MemberRequest(person, relation, None, window_end)
        errors = bind_check(holder=binding.holder, members=[*_requests(members), request], at=at)
        if errors[-1] is not None:
            raise errors[-1]
        before = _snapshot(binding)
        member = CounterBindingMember.objects.create(
            binding=binding, person=person, relation=relation, window_end=window_end, added_at=at
        )
        changed = _back_to_draft(binding)
        if changed:
            binding.save(update_fields=changed)
        _audit(binding, action="member_add", actor=actor, before=before)
    return member


def counter_binding_member_remove(
    *, binding: CounterBinding, member_public_id, actor: User
) -> None:
    _check_staff(actor, binding.region_id)
    with transaction.atomic():
        binding = _lock(binding)
        _check_editable(binding)
        member = binding.members.filter(public_id=member_public_id).select_related("person").first()
        if member is None:
            raise ValidationError(MEMBER_NOT_IN_BINDING, code="member_not_in_binding")
        before = _snapshot(binding)
        key = str(member.person.public_id)
        member.delete()
        changed = _back_to_draft(binding)
        seen = dict(binding.documents_seen or {})
        if key in (seen.get("members") or {}):
            seen["members"] = {k: v for k, v in seen["members"].items() if k != key}
            binding.documents_seen = seen
            changed.append("documents_seen")
        if changed:
            binding.save(update_fields=changed)
        _audit(binding, action="member_remove", actor=actor, before=before)


# ---------------------------------------------------------------------------------------------
# documents (R18)


def documents_problems(
    binding: CounterBinding, members: Sequence[CounterBindingMember], seen: dict
) -> list[ValidationError]:
    """What is missing from `seen` (the JSON of `Documents`) for this binding, one error each."""
    cards = set(Card.values)
    problems: list[ValidationError] = []
    if not cards & set(seen.get("holder") or []):
        problems.append(
            ValidationError(
                DOCS_HOLDER_CARD_MISSING,
                code="docs_holder_card_missing",
                params={"name": binding.holder.name},
            )
        )
    member_cards = seen.get("members") or {}
    for member in members:
        if not cards & set(member_cards.get(str(member.person.public_id)) or []):
            problems.append(
                ValidationError(
                    DOCS_MEMBER_CARD_MISSING,
                    code="docs_member_card_missing",
                    params={"name": member.person.name, "person": str(member.person.public_id)},
                )
            )
    accepted = list(binding.region.counter_relation_proofs or [])
    if not set(accepted) & set(seen.get("proofs") or []):
        problems.append(
            ValidationError(
                DOCS_PROOF_MISSING,
                code="docs_proof_missing",
                params={"proofs": "、".join(str(RelationProof(p).label) for p in accepted)},
            )
        )
    return problems


def counter_binding_documents_set(
    *, binding: CounterBinding, documents: Documents, actor: User
) -> CounterBinding:
    """R18: record which documents the clerk saw. Refused, changing nothing, unless they satisfy
    the region: an identity card (居民身份证 or 社会保障卡) of the holder and of every member, and
    at least one relation proof the region accepts."""
    _check_staff(actor, binding.region_id)
    with transaction.atomic():
        binding = _lock(binding)
        _check_editable(binding)
        members = _members(binding)
        seen = documents.as_json()
        known_members = {str(m.person.public_id) for m in members}
        cards = set(Card.values)
        if (
            not set(seen["holder"]) <= cards
            or not set(seen["members"]) <= known_members
            or any(not set(v) <= cards for v in seen["members"].values())
            or not set(seen["proofs"]) <= set(RelationProof.values)
        ):
            raise ValidationError(DOCS_INVALID, code="docs_invalid")
        refused = set(seen["proofs"]) - set(binding.region.counter_relation_proofs or [])
        if refused:
            raise ValidationError(
                DOCS_PROOF_NOT_ACCEPTED,
                code="docs_proof_not_accepted",
                params={"proofs": "、".join(str(RelationProof(p).label) for p in sorted(refused))},
            )
        if not members:
            raise ValidationError(NO_MEMBERS, code="no_members")
        problems = documents_problems(binding, members, seen)
        if problems:
            raise ValidationError(problems)
        if binding.documents_seen == seen:
            return binding
        before = _snapshot(binding)
        binding.documents_seen = seen
        binding.save(update_fields=["documents_seen"])
        _audit(binding, action="documents", actor=actor, before=before)
    return binding


# ---------------------------------------------------------------------------------------------
# letter (R7)


def _ready_to_print(binding: CounterBinding, members: Sequence[CounterBindingMember]) -> None:
    if not members:
        raise ValidationError(NO_MEMBERS, code="no_members")
    problems = documents_problems(binding, members, binding.documents_seen or {})
    if problems:
        raise ValidationError(problems)


def _preview(binding: CounterBinding, members: Sequence[CounterBindingMember]):
    version, text = letter_preview_for_binding(
        holder=binding.holder, members=_requests(members), channel=COUNTER
    )
    return version, text, CommitmentLetter.hash_text(text)


def counter_binding_letter_print(
    *, binding: CounterBinding, actor: User, at: dt.datetime | None = None
) -> CounterBinding:
    """Freeze the letter the holder signs on paper (kind from the region's counter agreement:
    the 个人账户代扣协议 in 659004). Printing again returns the same letter while its text is
    unchanged; if it changed (the holder's relationship changed meanwhile), the new text replaces
    it and the old scan no longer applies."""
    _check_staff(actor, binding.region_id)
    with transaction.atomic():
        at = at_or_now(at)
        binding = _lock(binding)
        _check_editable(binding)
        members = _members(binding)
        _ready_to_print(binding, members)
        for_binding = _requests(members)
        _raise_first_member_error(
            for_binding, bind_check(holder=binding.holder, members=for_binding, at=at)
        )
        version, text, content_hash = _preview(binding, members)
        if binding.status == BStatus.LETTER_PRINTED and binding.letter_hash == content_hash:
            return binding
        before = _snapshot(binding)
        changed = ["status", "letter_kind", "letter_version", "letter_text", "letter_hash"]
        if binding.status == BStatus.LETTER_PRINTED:  # a new text: the old signature is void
            _drop_scan_after_commit(binding.scan.name)
            _clear_scan_fields(binding)
            changed += SCAN_FIELDS
        binding.status = BStatus.LETTER_PRINTED
        binding.letter_kind = binding.holder.region.counter_agreement
        binding.letter_version = version
        binding.letter_text = text
        binding.letter_hash = content_hash
        binding.letter_printed_at = at
        binding.save(update_fields=[*changed, "letter_printed_at"])
        _audit(binding, action="letter_print", actor=actor, before=before)
    return binding


# ---------------------------------------------------------------------------------------------
# scan of the signed letter


def counter_binding_scan_attach(
    *, binding: CounterBinding, upload, actor: User, at: dt.datetime | None = None
) -> CounterBinding:
    """Keep the scan of the wet-signed letter (replacing an earlier one). Checked by content
    and rewritten (`scans.scan_check`) before anything is written: a refused file leaves nothing
    stored; what is stored, hashed and sized is the rewritten file."""
    _check_staff(actor, binding.region_id)
    scan = scan_check(scan_read(upload))  # parsed and rewritten, outside the transaction
    with transaction.atomic():
        at = at_or_now(at)
        binding = _lock(binding)
        _check_editable(binding)
        if binding.status != BStatus.LETTER_PRINTED:
            raise ValidationError(NOT_PRINTED, code="not_printed")
        before = _snapshot(binding)
        old_name = binding.scan.name
        binding.scan_content_type = scan.content_type
        binding.scan_sha256 = hashlib.sha256(scan.data).hexdigest()
        binding.scan_size = len(scan.data)
        binding.scan_uploaded_at = at
        binding.scan.save("scan", ContentFile(scan.data), save=False)
        new_name = binding.scan.name
        try:
            binding.save(update_fields=SCAN_FIELDS)
            _audit(binding, action="scan_attach", actor=actor, before=before)
        except BaseException:
            # The file is written before the row: a failed save leaves no stray file.
            binding.scan.storage.delete(new_name)
            raise
        _drop_scan_after_commit(old_name)
    return binding


# ---------------------------------------------------------------------------------------------
# submit, review, cancel


def review_reasons_for(
    binding: CounterBinding, members: Sequence[CounterBindingMember]
) -> list[str]:
    """Why a counter binding needs a supervisor (the region's policy), or [] when it does not."""
    policy = binding.region
    reasons: list[str] = []
    threshold = policy.review_member_threshold
    if threshold is not None:
        relationship = Relationship.objects.filter(
            holder=binding.holder, status=Relationship.Status.ACTIVE
        ).first()
        live = relationship.authorizations.live().count() if relationship else 0
        count = live + len(members)
        if count > threshold:
            reasons.append(str(REVIEW_MEMBERS_OVER % {"count": count, "threshold": threshold}))
    if policy.review_grandparent_relations:
        found = [m for m in members if m.relation in GRANDPARENT_RELATIONS]
        if found:
            labels = "、".join(f"{m.person.name}（{m.get_relation_display()}）" for m in found)
            reasons.append(str(REVIEW_GRANDPARENT % {"relations": labels}))
    return reasons


def _check_ready_to_submit(
    binding: CounterBinding, members: Sequence[CounterBindingMember], *, at: dt.datetime
) -> None:
    """Everything a submit and an approval need, checked again at that moment."""
    if not binding.letter_hash:
        raise ValidationError(LETTER_NOT_PRINTED, code="letter_not_printed")
    if not binding.scan:
        raise ValidationError(SCAN_MISSING, code="scan_missing")
    _ready_to_print(binding, members)
    requests = _requests(members)
    _raise_first_member_error(requests, bind_check(holder=binding.holder, members=requests, at=at))
    _version, _text, content_hash = _preview(binding, members)
    if content_hash != binding.letter_hash:
        raise ValidationError(LETTER_CHANGED_SINCE_PRINT, code="letter_changed_since_print")


def _take_effect(
    binding: CounterBinding,
    members: Sequence[CounterBindingMember],
    *,
    actor: User,
    at: dt.datetime,
) -> CommitmentLetter:
    """The binding itself (R1–R8, R21), with the printed letter's hash (R7): a refusal raises and
    the caller's transaction leaves everything as it was."""
    holder = binding.holder
    return relationship_bind(
        holder=holder,
        members=_requests(members),
        signature=Signature(name=holder.name, image=""),
        actor=actor,
        channel=COUNTER,
        expected_hash=binding.letter_hash,
        at=at,
    )


def counter_binding_submit(
    *, binding: CounterBinding, actor: User, at: dt.datetime | None = None
) -> CounterBinding:
    """Submit the signed binding: it waits for a supervisor when the region's policy says so
    (more members than its threshold, or a grandparent relation), else it takes effect now.
    A second submit of a submitted binding returns it unchanged."""
    _check_staff(actor, binding.region_id)
    with transaction.atomic():
        at = at_or_now(at)
        binding = _lock(binding)
        if binding.status in (BStatus.PENDING_REVIEW, BStatus.DONE):
            return binding
        if binding.status != BStatus.LETTER_PRINTED:
            if binding.status == BStatus.DRAFT:
                raise ValidationError(LETTER_NOT_PRINTED, code="letter_not_printed")
            raise ValidationError(CLOSED, code="closed")
        members = _members(binding)
        _check_ready_to_submit(binding, members, at=at)
        before = _snapshot(binding)
        reasons = review_reasons_for(binding, members)
        binding.submitted_at = at
        binding.needs_review = bool(reasons)
        binding.review_reasons = reasons
        if reasons:
            binding.status = BStatus.PENDING_REVIEW
        else:
            binding.letter = _take_effect(binding, members, actor=actor, at=at)
            binding.status = BStatus.DONE
            binding.closed_at = at
        binding.save(
            update_fields=[
                "status",
                "submitted_at",
                "needs_review",
                "review_reasons",
                "letter",
                "closed_at",
            ]
        )
        _audit(binding, action="submit" if reasons else "done", actor=actor, before=before)
    return binding


def _check_reviewer(binding: CounterBinding, actor: User) -> None:
    _check_staff(actor, binding.region_id, perm="family.review_counterbinding")
    if actor.pk == binding.created_by_id:
        raise ValidationError(REVIEW_OWN, code="review_own")


def counter_binding_approve(
    *, binding: CounterBinding, actor: User, note: str = "", at: dt.datetime | None = None
) -> CounterBinding:
    """A supervisor (not the clerk who made it) approves: the binding takes effect now, if the
    rules still allow it; otherwise it stays waiting, with the reason. Approving twice is a
    no-op."""
    try:
        _check_reviewer(binding, actor)
    except ValidationError as exc:
        if exc.code == "no_permission":
            raise ValidationError(REVIEW_NO_PERMISSION, code="review_no_permission") from exc
        raise
    with transaction.atomic():
        at = at_or_now(at)
        binding = _lock(binding)
        if binding.status == BStatus.DONE and binding.reviewed_by_id == actor.pk:
            return binding
        if binding.status != BStatus.PENDING_REVIEW:
            raise ValidationError(NOT_PENDING_REVIEW, code="not_pending_review")
        members = _members(binding)
        _check_ready_to_submit(binding, members, at=at)
        before = _snapshot(binding)
        binding.letter = _take_effect(binding, members, actor=actor, at=at)
        binding.status = BStatus.DONE
        binding.reviewed_by = actor
        binding.reviewed_at = at
        binding.review_note = note.strip()[:500]
        binding.closed_at = at
        binding.save(
            update_fields=[
                "letter",
                "status",
                "reviewed_by",
                "reviewed_at",
                "review_note",
                "closed_at",
            ]
        )
        _audit(binding, action="approve", actor=actor, before=before)
    return binding


def counter_binding_reject(
    *, binding: CounterBinding, actor: User, reason: str, at: dt.datetime | None = None
) -> CounterBinding:
    """A supervisor rejects with a reason; nothing is bound."""
    reason = (reason or "").strip()
    try:
        _check_reviewer(binding, actor)
    except ValidationError as exc:
        if exc.code == "no_permission":
            raise ValidationError(REVIEW_NO_PERMISSION, code="review_no_permission") from exc
        raise
    if not reason:
        raise ValidationError(REJECT_REASON_REQUIRED, code="reject_reason_required")
    with transaction.atomic():
        at = at_or_now(at)
        binding = _lock(binding)
        if binding.status == BStatus.REJECTED and binding.reviewed_by_id == actor.pk:
            return binding
        if binding.status != BStatus.PENDING_REVIEW:
            raise ValidationError(NOT_PENDING_REVIEW, code="not_pending_review")
        before = _snapshot(binding)
        binding.status = BStatus.REJECTED
        binding.reviewed_by = actor
        binding.reviewed_at = at
        binding.review_note = reason[:500]
        binding.closed_at = at
        binding.save(
            update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "closed_at"]
        )
        _audit(binding, action="reject", actor=actor, before=before)
    return binding


def counter_binding_cancel(
    *, binding: CounterBinding, actor: User, at: dt.datetime | None = None
) -> CounterBinding:
    """The clerk voids a binding that has not taken effect (the holder changed their mind).
    The scan is kept with the record."""
    _check_staff(actor, binding.region_id)
    with transaction.atomic():
        at = at_or_now(at)
        binding = _lock(binding)
        if binding.status == BStatus.CANCELLED:
            return binding
        if not binding.is_open:
            raise ValidationError(CLOSED, code="closed")
        before = _snapshot(binding)
        binding.status = BStatus.CANCELLED
        binding.closed_at = at
        binding.save(update_fields=["status", "closed_at"])
        _audit(binding, action="cancel", actor=actor, before=before)
    return binding
