"""Counter binding (issue 6; R7, R18, R20): services and staff pages.

Staff bind members for a holder after checking documents, print the letter for a wet signature,
upload its scan and submit; over the region's threshold a supervisor approves or rejects."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import AuditEntry, RegionPolicy, User
from accounts.staff import ADMINISTRATOR
from family import errors as family_errors
from family import services
from family.models import (
    Authorization,
    CommitmentLetter,
    CounterBinding,
    Relation,
    Relationship,
)

from .counter_helpers import (
    DAUGHTER,
    HOUSEHOLD,
    ID,
    SISTER,
    SPOUSE,
    SS,
    add_members,
    documents_for,
    pdf_bytes,
    printed,
    register_grandmother,
    signed,
    upload,
)

Status = CounterBinding.Status
COUNTER = AuditEntry.Channel.COUNTER
PASSWORD = "Staff-2025!"


@pytest.fixture(autouse=True)
def _scan_root(settings, tmp_path):
    settings.COUNTER_SCAN_ROOT = tmp_path / "scans"


def _messages(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _actions(binding: CounterBinding) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_id=str(binding.public_id))
        .order_by("id")
        .values_list("action", flat=True)
    )


# ---------------------------------------------------------------------------------------------
# services: the whole path


def test_a_binding_within_the_threshold_takes_effect_when_submitted(demo):
    clerk = demo.staff["js_clerk"]
    holder = demo["王建国"]
    binding = signed(demo, "王建国", [SPOUSE])

    binding = services.counter_binding_submit(binding=binding, actor=clerk)

    assert binding.status == Status.DONE and not binding.needs_review
    letter = binding.letter
    # R7: the letter that took effect is exactly the text printed and signed on paper.
    assert letter.text == binding.letter_text and letter.content_hash == binding.letter_hash
    assert letter.channel == COUNTER and letter.signed_by == clerk
    assert letter.kind == CommitmentLetter.Kind.RELATIONSHIP_LETTER
    assert letter.signed_name == holder.name and letter.signature_image == ""
    spouse = Authorization.objects.get(member=demo["李秀英"], holder=holder)
    assert spouse.status == Authorization.Status.PENDING_CONSENT  # R8: an adult still consents
    assert spouse in letter.authorizations.all()
    # R20: every step audited on the counter channel by the clerk.
    assert _actions(binding) == [
        "counter_binding.start",
        "counter_binding.member_add",
        "counter_binding.documents",
        "counter_binding.letter_print",
        "counter_binding.scan_attach",
        "counter_binding.done",
    ]
    entries = AuditEntry.objects.filter(object_id=str(binding.public_id))
    assert {(e.channel, e.actor_id, e.person_id) for e in entries} == {
        (COUNTER, clerk.pk, holder.pk)
    }
    assert AuditEntry.objects.filter(
        action="authorization.create", object_id=str(spouse.public_id), channel=COUNTER
    ).exists()


def test_more_members_than_the_threshold_wait_for_a_supervisor(demo):
    holder = demo["王建国"]  # already binds 王小明 and 王德胜
    binding = signed(demo, "王建国", [SPOUSE, DAUGHTER, SISTER])

    binding = services.counter_binding_submit(binding=binding, actor=demo.staff["js_clerk"])

    assert binding.status == Status.PENDING_REVIEW and binding.needs_review
    assert binding.review_reasons == ["绑定后共济成员5人，超过本统筹区规定的4人"]
    assert binding.letter is None
    assert not Authorization.objects.filter(holder=holder, member=demo["王丽"]).exists()

    supervisor = demo.staff["js_super"]
    binding = services.counter_binding_approve(binding=binding, actor=supervisor, note="材料齐全")

    assert binding.status == Status.DONE
    assert binding.reviewed_by == supervisor and binding.review_note == "材料齐全"
    assert binding.letter.signed_by == supervisor and binding.letter.channel == COUNTER
    live = Authorization.objects.live().filter(holder=holder)
    assert live.count() == 5
    assert binding.letter.authorizations.count() == 5
    assert _actions(binding)[-2:] == ["counter_binding.submit", "counter_binding.approve"]


def test_a_grandparent_relation_needs_review(demo):
    register_grandmother(demo)
    binding = signed(demo, "王建国", [("王桂英", Relation.PATERNAL_GRANDPARENT)])

    binding = services.counter_binding_submit(binding=binding, actor=demo.staff["js_clerk"])

    assert binding.status == Status.PENDING_REVIEW
    assert binding.review_reasons == ["含祖孙关系：王桂英（祖父母）"]


def test_the_policy_can_switch_both_review_rules_off(demo):
    RegionPolicy.objects.filter(code="320100").update(
        review_member_threshold=None, review_grandparent_relations=False
    )
    register_grandmother(demo)
    demo["王建国"].region.refresh_from_db()
    binding = signed(
        demo, "王建国", [SPOUSE, DAUGHTER, SISTER, ("王桂英", Relation.PATERNAL_GRANDPARENT)]
    )

    binding = services.counter_binding_submit(binding=binding, actor=demo.staff["js_clerk"])

    assert binding.status == Status.DONE and binding.review_reasons == []


def test_xinjiang_counter_letter_is_the_withholding_agreement(demo):
    clerk = demo.staff["xj_clerk"]
    binding = signed(demo, "马志强", [("马俊", Relation.CHILD)], clerk="xj_clerk")

    assert binding.letter_kind == CommitmentLetter.Kind.WITHHOLDING_AGREEMENT
    assert binding.letter_text.startswith("个人账户代扣协议")
    binding = services.counter_binding_submit(binding=binding, actor=clerk)
    assert binding.status == Status.DONE
    assert binding.letter.kind == CommitmentLetter.Kind.WITHHOLDING_AGREEMENT


def test_start_twice_returns_the_open_binding(demo):
    clerk, holder = demo.staff["js_clerk"], demo["王建国"]
    first = services.counter_binding_start(holder=holder, actor=clerk)
    second = services.counter_binding_start(holder=holder, actor=clerk)
    assert first.pk == second.pk
    assert _actions(first) == ["counter_binding.start"]


def test_a_holder_who_may_not_hold_is_refused_at_start(demo):
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_start(holder=demo["王丽"], actor=demo.staff["js_clerk"])
    assert _messages(caught.value) == [str(family_errors.HOLDER_NOT_EMPLOYEE)]
    assert not CounterBinding.objects.exists()


def test_submit_twice_is_a_no_op(demo):
    clerk = demo.staff["js_clerk"]
    binding = signed(demo, "王建国", [SPOUSE])
    services.counter_binding_submit(binding=binding, actor=clerk)
    again = services.counter_binding_submit(binding=binding, actor=clerk)
    assert again.status == Status.DONE
    assert CommitmentLetter.objects.filter(channel=COUNTER).count() == 1


def test_submit_needs_the_scan(demo):
    binding = printed(demo, "王建国", [SPOUSE])
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_submit(binding=binding, actor=demo.staff["js_clerk"])
    assert _messages(caught.value) == [str(services.SCAN_MISSING)]


# ---------------------------------------------------------------------------------------------
# members: the online rules with their messages


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("赵敏", family_errors.MEMBER_OUT_OF_SCOPE % {"scope": "本省"}),  # R3: another province
        ("孙强", family_errors.MEMBER_NOT_NORMAL),  # R3: transferred out
        ("王小明", family_errors.MEMBER_ALREADY_BOUND_HERE),  # R4
        ("王建国", family_errors.REL_SELF),  # R1
    ],
)
def test_members_follow_the_online_rules(demo, name, message):
    clerk = demo.staff["js_clerk"]
    binding = services.counter_binding_start(holder=demo["王建国"], actor=clerk)
    with pytest.raises(ValidationError) as caught:
        add_members(binding, demo.people, [(name, Relation.SIBLING)], clerk)
    assert _messages(caught.value) == [str(message)]
    assert binding.members.count() == 0


def test_the_same_member_twice_is_refused(demo):
    clerk = demo.staff["js_clerk"]
    binding = services.counter_binding_start(holder=demo["王建国"], actor=clerk)
    add_members(binding, demo.people, [SPOUSE], clerk)
    with pytest.raises(ValidationError) as caught:
        add_members(binding, demo.people, [SPOUSE], clerk)
    assert _messages(caught.value) == [str(family_errors.MEMBER_DUPLICATED)]


def test_changing_members_after_printing_voids_the_letter_and_scan(
    demo, django_capture_on_commit_callbacks
):
    clerk = demo.staff["js_clerk"]
    binding = signed(demo, "王建国", [SPOUSE])
    old_scan, storage = binding.scan.name, binding.scan.storage
    assert storage.exists(old_scan)

    with django_capture_on_commit_callbacks(execute=True):
        add_members(binding, demo.people, [DAUGHTER], clerk)

    binding.refresh_from_db()
    assert binding.status == Status.DRAFT
    assert binding.letter_hash == "" and not binding.scan
    assert binding.members.count() == 2
    assert not storage.exists(old_scan)  # the signature on it no longer applies


# ---------------------------------------------------------------------------------------------
# documents (R18)


def test_documents_missing_are_named_and_nothing_is_recorded(demo):
    clerk = demo.staff["js_clerk"]
    binding = services.counter_binding_start(holder=demo["王建国"], actor=clerk)
    add_members(binding, demo.people, [SPOUSE, DAUGHTER], clerk)
    li = demo["李秀英"]
    documents = services.Documents(holder=[], members={str(li.public_id): [ID]}, proofs=[])

    with pytest.raises(ValidationError) as caught:
        services.counter_binding_documents_set(binding=binding, documents=documents, actor=clerk)

    assert _messages(caught.value) == [
        "须查验主账户人王建国的居民身份证或社会保障卡",
        "须查验家庭成员王丽的居民身份证或社会保障卡",
        "须查验至少一种关系证明（本统筹区认可：户口簿、结婚证、签字的家庭关系承诺书）",
    ]
    binding.refresh_from_db()
    assert binding.documents_seen == {}
    assert "counter_binding.documents" not in _actions(binding)


def test_a_proof_the_region_does_not_accept_is_refused(demo):
    RegionPolicy.objects.filter(code="320100").update(counter_relation_proofs=[HOUSEHOLD])
    clerk = demo.staff["js_clerk"]
    binding = services.counter_binding_start(holder=demo["王建国"], actor=clerk)
    add_members(binding, demo.people, [SPOUSE], clerk)

    with pytest.raises(ValidationError) as caught:
        services.counter_binding_documents_set(
            binding=binding,
            documents=documents_for(binding, proofs=["marriage_certificate"]),
            actor=clerk,
        )

    assert _messages(caught.value) == ["本统筹区不认可以下关系证明：结婚证"]


def test_printing_needs_complete_documents(demo):
    clerk = demo.staff["js_clerk"]
    binding = services.counter_binding_start(holder=demo["王建国"], actor=clerk)
    add_members(binding, demo.people, [SPOUSE], clerk)
    services.counter_binding_documents_set(
        binding=binding, documents=documents_for(binding), actor=clerk
    )
    add_members(binding, demo.people, [DAUGHTER], clerk)  # her card not seen yet

    with pytest.raises(ValidationError) as caught:
        services.counter_binding_letter_print(binding=binding, actor=clerk)

    assert _messages(caught.value) == ["须查验家庭成员王丽的居民身份证或社会保障卡"]
    binding.refresh_from_db()
    assert binding.status == Status.DRAFT and binding.letter_hash == ""


# ---------------------------------------------------------------------------------------------
# the letter (R7) and what changes meanwhile


def test_a_letter_changed_since_printing_is_refused_and_nothing_is_bound(demo):
    clerk, holder = demo.staff["js_clerk"], demo["王建国"]
    binding = signed(demo, "王建国", [SPOUSE])
    # Meanwhile the holder revokes his son online: the letter lists every live member, so the
    # text he signed on paper is no longer the text that would take effect.
    son = Authorization.objects.get(holder=holder, member=demo["王小明"])
    services.authorization_revoke(
        authorization=son, actor=holder.user, channel=AuditEntry.Channel.ONLINE
    )

    with pytest.raises(ValidationError) as caught:
        services.counter_binding_submit(binding=binding, actor=clerk)

    assert _messages(caught.value) == [str(services.LETTER_CHANGED_SINCE_PRINT)]
    binding.refresh_from_db()
    assert binding.status == Status.LETTER_PRINTED
    assert not Authorization.objects.filter(member=demo["李秀英"]).exists()

    old_hash = binding.letter_hash
    binding = services.counter_binding_letter_print(binding=binding, actor=clerk)
    assert binding.letter_hash != old_hash and not binding.scan  # a new signature is needed


def test_printing_again_keeps_the_same_letter(demo):
    clerk = demo.staff["js_clerk"]
    binding = printed(demo, "王建国", [SPOUSE])
    again = services.counter_binding_letter_print(binding=binding, actor=clerk)
    assert again.letter_hash == binding.letter_hash
    assert _actions(binding).count("counter_binding.letter_print") == 1


def test_a_member_bound_elsewhere_meanwhile_stops_the_approval(demo):
    binding = signed(demo, "王建国", [SPOUSE, DAUGHTER, SISTER])
    binding = services.counter_binding_submit(binding=binding, actor=demo.staff["js_clerk"])
    zhang = demo["张伟"]
    services.relationship_bind(
        holder=zhang,
        members=[services.MemberRequest(demo["周芳"], Relation.SIBLING, None, None)],
        signature=services.Signature(name=zhang.name),
        actor=zhang.user,
        channel=AuditEntry.Channel.ONLINE,
    )

    with pytest.raises(ValidationError) as caught:
        services.counter_binding_approve(binding=binding, actor=demo.staff["js_super"])

    assert _messages(caught.value) == [
        "周芳：" + str(family_errors.MEMBER_IN_OTHER_RELATIONSHIP),
    ]
    binding.refresh_from_db()
    assert binding.status == Status.PENDING_REVIEW and binding.reviewed_by is None
    assert not Authorization.objects.filter(member=demo["李秀英"]).exists()


# ---------------------------------------------------------------------------------------------
# review: four eyes, permission, reject


def _pending(demo, clerk="js_clerk") -> CounterBinding:
    binding = signed(demo, "王建国", [SPOUSE, DAUGHTER, SISTER], clerk=clerk)
    return services.counter_binding_submit(binding=binding, actor=demo.staff[clerk])


def test_a_clerk_without_the_permission_cannot_approve(demo):
    binding = _pending(demo)
    other_clerk = demo.staff["js_clerk"]
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_approve(binding=binding, actor=other_clerk)
    assert _messages(caught.value) == [str(services.REVIEW_NO_PERMISSION)]


def test_nobody_approves_their_own_binding(demo):
    binding = _pending(demo, clerk="js_super")  # a supervisor may also work the counter
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_approve(binding=binding, actor=demo.staff["js_super"])
    assert _messages(caught.value) == [str(services.REVIEW_OWN)]
    binding.refresh_from_db()
    assert binding.status == Status.PENDING_REVIEW


def test_the_database_refuses_a_reviewer_who_is_the_creator(demo):
    binding = _pending(demo)
    with pytest.raises(IntegrityError), transaction.atomic():
        CounterBinding.objects.filter(pk=binding.pk).update(
            reviewed_by=binding.created_by, reviewed_at=binding.submitted_at
        )


def test_a_supervisor_of_another_region_cannot_review(demo):
    binding = _pending(demo)
    xj = demo.staff["xj_clerk"]
    xj.user_permissions.add(*Permission.objects.filter(codename="review_counterbinding"))
    xj = User.objects.get(pk=xj.pk)  # a fresh permission cache
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_approve(binding=binding, actor=xj)
    assert _messages(caught.value) == [str(services.OUT_OF_REGION)]


def test_reject_needs_a_reason_and_leaves_nothing_bound(demo):
    binding = _pending(demo)
    supervisor = demo.staff["js_super"]
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_reject(binding=binding, actor=supervisor, reason="  ")
    assert _messages(caught.value) == [str(services.REJECT_REASON_REQUIRED)]

    binding = services.counter_binding_reject(
        binding=binding, actor=supervisor, reason="户口簿复印件不清晰"
    )

    assert binding.status == Status.REJECTED and binding.review_note == "户口簿复印件不清晰"
    assert not Authorization.objects.filter(member=demo["李秀英"]).exists()
    assert Authorization.objects.live().filter(holder=demo["王建国"]).count() == 2
    assert _actions(binding)[-1] == "counter_binding.reject"
    # The holder may start again.
    again = services.counter_binding_start(holder=demo["王建国"], actor=demo.staff["js_clerk"])
    assert again.pk != binding.pk


def test_cancel_voids_an_open_binding(demo):
    clerk = demo.staff["js_clerk"]
    binding = printed(demo, "王建国", [SPOUSE])
    binding = services.counter_binding_cancel(binding=binding, actor=clerk)
    assert binding.status == Status.CANCELLED and binding.closed_at is not None
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_submit(binding=binding, actor=clerk)
    assert _messages(caught.value) == [str(services.CLOSED)]


def test_a_clerk_of_another_region_cannot_start(demo):
    with pytest.raises(ValidationError) as caught:
        services.counter_binding_start(holder=demo["王建国"], actor=demo.staff["xj_clerk"])
    assert _messages(caught.value) == [str(services.OUT_OF_REGION)]


# ---------------------------------------------------------------------------------------------
# pages


def _login(client, username):
    client.force_login(User.objects.get(username=username))


def _url(name, binding_or_person):
    return reverse(f"staff:{name}", kwargs={"public_id": binding_or_person.public_id})


def test_the_whole_path_through_the_pages(client, demo, django_assert_max_num_queries):
    holder = demo["王建国"]
    _login(client, "js_clerk")
    with django_assert_max_num_queries(12):
        page = client.get(_url("binding-start", holder))
    assert page.status_code == 200 and "开始办理" in page.content.decode()
    assert holder.id_number not in page.content.decode()

    response = client.post(_url("binding-start", holder))
    binding = CounterBinding.objects.get(holder=holder)
    assert response.status_code == 302 and response.url == _url("binding", binding)

    for name, relation in [SPOUSE, DAUGHTER, SISTER]:
        person = demo[name]
        response = client.post(
            _url("binding", binding),
            {
                "action": "member-add",
                "relation": relation,
                "name": name,
                "id_number": person.id_number,
                "window_end": "",
            },
        )
        assert response.status_code == 302, response.content.decode()
    with django_assert_max_num_queries(20):
        page = client.get(_url("binding", binding))
    html = page.content.decode()
    assert "查验材料" in html and demo["王丽"].id_number not in html

    data = {"action": "documents", "holder_cards": [ID], "proofs": [HOUSEHOLD]}
    for member in binding.members.all():
        data["member_" + member.person.public_id.hex] = [SS]
    assert client.post(_url("binding", binding), data).status_code == 302

    response = client.post(_url("binding", binding), {"action": "print"})
    assert response.status_code == 302 and response.url == _url("binding-letter", binding)
    with django_assert_max_num_queries(12):
        letter = client.get(_url("binding-letter", binding))
    binding.refresh_from_db()
    assert binding.letter_text.strip().splitlines()[0] in letter.content.decode()
    assert "主账户人签字" in letter.content.decode()

    response = client.post(_url("binding-upload", binding), {"scan": upload(pdf_bytes())})
    assert response.status_code == 302
    response = client.post(_url("binding", binding), {"action": "submit"})
    assert response.status_code == 302
    binding.refresh_from_db()
    assert binding.status == Status.PENDING_REVIEW

    client.logout()
    _login(client, "js_super")
    with django_assert_max_num_queries(14):
        listing = client.get(reverse("staff:review-list"))
    assert "王建国" in listing.content.decode()
    with django_assert_max_num_queries(16):
        review = client.get(_url("binding-review", binding))
    assert "超过本统筹区规定的4人" in review.content.decode()
    response = client.post(_url("binding-review", binding), {"decision": "approve", "note": ""})
    assert response.status_code == 302
    binding.refresh_from_db()
    assert binding.status == Status.DONE
    assert Relationship.objects.get(holder=holder, status="active").letters.filter(
        pk=binding.letter_id
    )


def test_documents_page_shows_what_is_missing_next_to_its_field(client, demo):
    clerk = demo.staff["js_clerk"]
    binding = services.counter_binding_start(holder=demo["王建国"], actor=clerk)
    add_members(binding, demo.people, [SPOUSE], clerk)
    _login(client, "js_clerk")
    response = client.post(_url("binding", binding), {"action": "documents", "proofs": []})
    html = response.content.decode()
    assert response.status_code == 200
    assert "须查验主账户人王建国的居民身份证或社会保障卡" in html
    assert "须查验家庭成员李秀英的居民身份证或社会保障卡" in html


def test_member_not_in_the_register_is_refused_on_the_page(client, demo):
    binding = services.counter_binding_start(holder=demo["王建国"], actor=demo.staff["js_clerk"])
    _login(client, "js_clerk")
    response = client.post(
        _url("binding", binding),
        {
            "action": "member-add",
            "relation": Relation.SPOUSE,
            "name": "李秀",  # a wrong name
            "id_number": demo["李秀英"].id_number,
        },
    )
    assert response.status_code == 200
    assert str(family_errors.MEMBER_NOT_FOUND) in response.content.decode()
    assert binding.members.count() == 0


def test_a_clerk_cannot_open_the_review(client, demo):
    binding = _pending(demo)
    _login(client, "js_clerk")
    assert client.get(_url("binding-review", binding)).status_code == 403
    assert client.get(reverse("staff:review-list")).status_code == 403
    response = client.post(_url("binding-review", binding), {"decision": "approve"})
    assert response.status_code == 403


def test_the_creator_sees_no_decision_form_and_cannot_post_one(client, demo):
    binding = _pending(demo, clerk="js_super")
    _login(client, "js_super")
    page = client.get(_url("binding-review", binding))
    assert "须由其他审核人员审核" in page.content.decode()
    response = client.post(_url("binding-review", binding), {"decision": "approve"})
    assert str(services.REVIEW_OWN) in response.content.decode()
    binding.refresh_from_db()
    assert binding.status == Status.PENDING_REVIEW


def test_a_jiangsu_binding_is_404_for_the_xinjiang_clerk(client, demo):
    binding = signed(demo, "王建国", [SPOUSE])
    _login(client, "xj_clerk")
    for name in ("binding", "binding-letter", "binding-scan"):
        assert client.get(_url(name, binding)).status_code == 404, name
    assert client.post(_url("binding", binding), {"action": "submit"}).status_code == 404
    assert client.get(_url("binding-start", demo["王建国"])).status_code == 404
    binding.refresh_from_db()
    assert binding.status == Status.LETTER_PRINTED


def test_a_citizen_gets_403_and_a_visitor_the_staff_login(client, demo):
    binding = signed(demo, "王建国", [SPOUSE])
    response = client.get(_url("binding", binding))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    client.force_login(demo["王建国"].user)
    assert client.get(_url("binding", binding)).status_code == 403


def test_the_administrator_role_may_look_but_not_bind(client, demo):
    """管理员 has view_counterbinding only; the superuser flag aside, a plain staff user with
    that group cannot start or change a counter binding."""
    viewer = User.objects.create_user(username="viewer", password=PASSWORD, is_staff=True)
    viewer.groups.set([Group.objects.get(name=ADMINISTRATOR)])
    viewer.regions.set(RegionPolicy.objects.filter(code="320100"))
    binding = signed(demo, "王建国", [SPOUSE])
    _login(client, "viewer")
    assert client.get(_url("binding", binding)).status_code == 200
    assert client.post(_url("binding", binding), {"action": "submit"}).status_code == 403
    assert client.post(_url("binding-start", demo["王建国"])).status_code == 403
