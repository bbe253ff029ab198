"""Binding (family.services: relationship_bind, authorization_window_change, letters signing;
docs/rules.md R1–R7, R20, R21), built through the services.

`NOW` (2026-11-23 10:00 Asia/Shanghai) is passed as `at=`; ages at NOW: 王小明 14, 马小燕 11,
马俊 18, 王丽 20. 320100 is the exclusive Jiangsu-like policy, 659004 the multi-holder Wujiaqu
one."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import RegionPolicy
from family import errors as family_errors
from family import hooks, letters, services
from family import selectors as family_selectors
from family.models import Authorization, CommitmentLetter, Relation, Relationship
from tests.clock import NOW, SHANGHAI
from tests.family.builders import (
    COUNTER,
    DAY,
    ONLINE,
    PERSON,
    SECOND,
    A,
    actions_since,
    answer,
    audit_mark,
    audit_since,
    bind,
    fresh,
    live,
    messages,
    nothing_written,
    policy_set,
    req,
)
from tests.family.letter_helpers import signature_png


@pytest.fixture
def balances(monkeypatch):
    """The payments app's balance provider (registered in a later issue), by holder name."""
    table: dict[str, Decimal] = {}
    monkeypatch.setattr(hooks, "_balance_provider", lambda person: table.get(person.name))
    return table


# ---------------------------------------------------------------------------------------------
# binding and its audit trail (R7, R20)


def test_binding_writes_relationship_authorizations_letter_and_their_audit_rows(
    demo_unbound,
):  # R20
    wang, xiaoming, desheng = demo_unbound["王建国"], demo_unbound["王小明"], demo_unbound["王德胜"]
    mark = audit_mark()
    letter = bind(wang, req(xiaoming), req(desheng, Relation.PARENT, end=NOW + 30 * DAY))

    relationship = Relationship.objects.get(holder=wang)
    assert relationship.status == Relationship.Status.ACTIVE
    assert relationship.created_at == NOW
    entries = audit_since(mark)
    assert [(e.action, e.person.name) for e in entries] == [
        ("relationship.create", "王建国"),
        ("authorization.create", "王小明"),
        ("authorization.create", "王德胜"),
        ("letter.sign", "王建国"),
    ]
    assert {(e.actor, e.channel) for e in entries} == {(wang.user, ONLINE)}
    create = entries[1]
    assert create.before is None
    assert create.after["status"] == A.ACTIVE
    assert create.object_id == str(live(wang, xiaoming).public_id)
    sign = entries[3]
    assert sign.object_id == str(letter.public_id)
    assert "text" not in sign.after  # the letter itself is the record of its text
    assert sign.after["content_hash"] == letter.content_hash


def test_counter_binding_is_done_by_staff_and_signs_the_policys_counter_agreement(
    demo_unbound, staff
):
    # R7 (channel recorded), R18: at the counter staff act for the holder; 659004 uses the
    # 个人账户代扣协议, 320100 the family-relationship letter.
    letter = bind(demo_unbound["马志强"], req(demo_unbound["马小燕"]), actor=staff, channel=COUNTER)
    assert letter.kind == CommitmentLetter.Kind.WITHHOLDING_AGREEMENT
    assert (letter.channel, letter.signed_by, letter.signed_name) == (COUNTER, staff, "马志强")
    assert Relationship.objects.get(holder=demo_unbound["马志强"]).channel == COUNTER

    letter = bind(demo_unbound["王建国"], req(demo_unbound["王小明"]), actor=staff, channel=COUNTER)
    assert letter.kind == CommitmentLetter.Kind.RELATIONSHIP_LETTER


def test_online_letter_kind_follows_the_policy(demo_unbound):  # R7
    assert bind(demo_unbound["王建国"], req(demo_unbound["王小明"])).kind == "relationship_letter"
    assert bind(demo_unbound["马志强"], req(demo_unbound["马小燕"])).kind == "mutual_aid_letter"


def test_binding_without_members_is_refused(demo_unbound):
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"])
    assert exc.value.messages == messages(family_errors.NO_MEMBERS)


# ---------------------------------------------------------------------------------------------
# R1 relations


@pytest.mark.parametrize("relation", Relation.values)
def test_each_of_the_eight_relations_can_be_bound(demo_unbound, relation):  # R1
    bind(demo_unbound["王建国"], req(demo_unbound["王小明"], relation))
    assert live(demo_unbound["王建国"], demo_unbound["王小明"]).relation == relation
    assert len(Relation.values) == 8


def test_a_relation_outside_the_eight_is_refused(demo_unbound):  # R1
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王丽"], "cousin"))
    assert exc.value.messages == messages(family_errors.REL_INVALID_RELATION)
    assert nothing_written()


def test_nobody_binds_themselves(demo_unbound):  # R1
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王建国"], Relation.SPOUSE))
    assert exc.value.messages == messages(family_errors.REL_SELF)
    assert nothing_written()


# ---------------------------------------------------------------------------------------------
# R2 holder


def test_a_resident_scheme_person_cannot_be_a_holder(demo_unbound):  # R2
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王德胜"], req(demo_unbound["王小明"], Relation.PATERNAL_GRANDCHILD))
    assert exc.value.messages == messages(family_errors.HOLDER_NOT_EMPLOYEE)
    assert nothing_written()


def test_a_transferred_out_employee_cannot_be_a_holder(demo_unbound):  # R2
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["孙强"], req(demo_unbound["王小明"]))
    assert exc.value.messages == messages(family_errors.HOLDER_NOT_NORMAL)


def test_a_suspended_employee_cannot_set_up(demo_unbound, staff):  # R2
    services.person_status_change(
        person=demo_unbound["张伟"],
        status=PERSON.SUSPENDED,
        reason="欠费",
        actor=staff,
        channel=COUNTER,
    )
    with pytest.raises(ValidationError) as exc:
        bind(fresh(demo_unbound["张伟"]), req(demo_unbound["王小明"]))
    assert exc.value.messages == messages(family_errors.HOLDER_NOT_NORMAL)


def test_a_holder_without_a_positive_balance_cannot_set_up(demo_unbound, balances):  # R2
    balances["王建国"] = Decimal("0.00")
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王小明"]))
    assert exc.value.messages == messages(family_errors.HOLDER_NO_BALANCE)
    with pytest.raises(ValidationError):
        family_selectors.bind_check(
            holder=demo_unbound["王建国"], members=[req(demo_unbound["王小明"])], at=NOW
        )
    assert nothing_written()

    balances["王建国"] = Decimal("0.01")
    bind(demo_unbound["王建国"], req(demo_unbound["王小明"]))
    assert live(demo_unbound["王建国"], demo_unbound["王小明"]).status == A.ACTIVE


# ---------------------------------------------------------------------------------------------
# R3 member


def test_a_member_not_in_normal_status_is_refused(demo_unbound):  # R3
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["孙强"], Relation.SIBLING))
    assert exc.value.messages == messages(family_errors.MEMBER_NOT_NORMAL)


def test_a_member_in_another_province_is_out_of_scope(demo_unbound):  # R3
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["赵敏"], Relation.SIBLING))
    assert exc.value.messages == messages(
        family_errors.MEMBER_OUT_OF_SCOPE, scope=RegionPolicy.MemberScope.PROVINCE.label
    )
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["马志强"], req(demo_unbound["王小明"]))  # Xinjiang holder, Jiangsu child
    assert exc.value.messages == messages(
        family_errors.MEMBER_OUT_OF_SCOPE, scope=RegionPolicy.MemberScope.PROVINCE.label
    )
    assert nothing_written()


def test_another_city_of_the_same_province_is_in_scope_and_employees_may_be_members(
    demo_unbound,
):  # R3
    bind(
        demo_unbound["王建国"], req(demo_unbound["周芳"], Relation.SIBLING)
    )  # 320200, employee scheme
    assert live(demo_unbound["王建国"], demo_unbound["周芳"]).status == A.PENDING_CONSENT


def test_member_scope_is_a_policy_setting(demo_unbound):  # R3
    policy_set("320100", member_scope=RegionPolicy.MemberScope.CITY)
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["周芳"], Relation.SIBLING))
    assert exc.value.messages == messages(
        family_errors.MEMBER_OUT_OF_SCOPE, scope=RegionPolicy.MemberScope.CITY.label
    )
    policy_set("320100", member_scope=RegionPolicy.MemberScope.NATIONAL)
    bind(
        demo_unbound["王建国"], req(demo_unbound["赵敏"], Relation.SIBLING)
    )  # 330100, "gradually nationwide"
    assert live(demo_unbound["王建国"], demo_unbound["赵敏"]).is_live


# ---------------------------------------------------------------------------------------------
# R4 one relationship per holder


def test_a_second_binding_adds_members_to_the_one_relationship(demo_unbound):  # R4
    wang = demo_unbound["王建国"]
    first = bind(wang, req(demo_unbound["王小明"]))
    second = bind(wang, req(demo_unbound["王德胜"], Relation.PARENT), at=NOW + DAY)
    assert Relationship.objects.filter(holder=wang).count() == 1
    assert first.relationship_id == second.relationship_id
    assert (first.purpose, second.purpose) == ("bind", "add_members")


def test_a_member_already_in_the_relationship_cannot_be_added_again(demo):  # R4
    with pytest.raises(ValidationError) as exc:
        bind(demo["王建国"], req(demo["王小明"]))
    assert exc.value.messages == messages(family_errors.MEMBER_ALREADY_BOUND_HERE)
    with pytest.raises(ValidationError) as exc:  # the multi-holder policy too
        bind(demo["马志强"], req(demo["马小燕"]))
    assert exc.value.messages == messages(family_errors.MEMBER_ALREADY_BOUND_HERE)


def test_the_same_member_twice_in_one_request_is_refused(demo_unbound):  # R4
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王小明"]), req(demo_unbound["王小明"]))
    assert exc.value.messages == messages(family_errors.MEMBER_DUPLICATED)
    assert nothing_written()


# ---------------------------------------------------------------------------------------------
# R5 exclusivity is a policy setting


def test_exclusive_policy_a_member_bound_elsewhere_is_refused(demo):  # R5
    with pytest.raises(ValidationError) as exc:
        bind(demo["李秀英"], req(demo["王小明"]))
    assert exc.value.messages == messages(family_errors.MEMBER_IN_OTHER_RELATIONSHIP)
    assert not Relationship.objects.filter(holder=demo["李秀英"]).exists()


def test_exclusive_policy_a_pending_request_already_holds_the_member(demo_unbound):  # R5
    bind(demo_unbound["王建国"], req(demo_unbound["王丽"]))  # 20 years old: pending her consent
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["李秀英"], req(demo_unbound["王丽"]))
    assert exc.value.messages == messages(family_errors.MEMBER_IN_OTHER_RELATIONSHIP)


def test_exclusive_policy_a_holder_cannot_be_bound_as_member(demo):  # R5
    with pytest.raises(ValidationError) as exc:
        bind(demo["张伟"], req(demo["王建国"], Relation.SIBLING))
    assert exc.value.messages == messages(family_errors.MEMBER_IS_HOLDER_ELSEWHERE)


def test_exclusive_policy_a_member_cannot_set_up_as_holder(demo_unbound):  # R5
    bind(demo_unbound["王建国"], req(demo_unbound["李秀英"], Relation.SPOUSE))
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["李秀英"], req(demo_unbound["王小明"]))
    assert exc.value.messages == messages(family_errors.HOLDER_IS_MEMBER_ELSEWHERE)


def test_exclusive_policy_leave_then_join_another(demo, staff):  # R5, R15
    wang, li, xiaoming = demo["王建国"], demo["李秀英"], demo["王小明"]
    services.authorization_revoke(
        authorization=live(wang, xiaoming), actor=wang.user, channel=ONLINE, at=NOW
    )
    bind(li, req(xiaoming), at=NOW + SECOND)
    assert live(li, xiaoming).status == A.ACTIVE

    # the member leaves himself; his daughter (other Jiangsu city, no login) binds him at the
    # counter
    desheng, zhou = demo["王德胜"], demo["周芳"]
    services.authorization_leave(
        authorization=live(wang, desheng), actor=desheng.user, channel=ONLINE, at=NOW
    )
    bind(zhou, req(desheng, Relation.PARENT), actor=staff, channel=COUNTER, at=NOW + SECOND)
    assert live(zhou, desheng).status == A.PENDING_CONSENT


def test_multi_holder_policy_both_parents_bind_the_same_child(demo_unbound):  # R5
    ma, guli, xiaoyan = demo_unbound["马志强"], demo_unbound["古丽娜"], demo_unbound["马小燕"]
    bind(ma, req(xiaoyan))
    bind(guli, req(xiaoyan), at=NOW + SECOND)
    rows = Authorization.objects.live().filter(member=xiaoyan).order_by("pk")
    assert [(a.holder.name, a.status, a.exclusive) for a in rows] == [
        ("马志强", A.ACTIVE, False),
        ("古丽娜", A.ACTIVE, False),
    ]


def test_multi_holder_policy_a_holder_may_also_be_a_member(demo):  # R5
    bind(demo["马志强"], req(demo["古丽娜"], Relation.SPOUSE))
    assert live(demo["马志强"], demo["古丽娜"]).status == A.PENDING_CONSENT
    bind(demo["古丽娜"], req(demo["马俊"]))  # still holds and adds members
    assert live(demo["古丽娜"], demo["马俊"]).is_live


# ---------------------------------------------------------------------------------------------
# R6 windows


def test_start_one_second_in_the_past_is_refused(demo_unbound):  # R6
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王小明"], start=NOW - SECOND))
    assert exc.value.messages == messages(family_errors.WINDOW_START_PAST)
    assert nothing_written()


def test_start_now_is_accepted(demo_unbound):  # R6
    bind(demo_unbound["王建国"], req(demo_unbound["王小明"], start=NOW))
    assert live(demo_unbound["王建国"], demo_unbound["王小明"]).window_start == NOW


def test_without_a_start_the_window_starts_at_signing(demo_unbound):  # R6
    letter = bind(demo_unbound["王建国"], req(demo_unbound["王小明"]))
    assert (
        live(demo_unbound["王建国"], demo_unbound["王小明"]).window_start == letter.signed_at == NOW
    )
    assert letters.FROM_SIGNING in letter.text


def test_the_default_clock_is_now(demo_unbound, time_machine):  # R6 without at=
    time_machine.move_to(NOW, tick=False)
    with pytest.raises(ValidationError) as exc:
        services.relationship_bind(
            holder=demo_unbound["王建国"],
            members=[req(demo_unbound["王小明"], start=NOW - SECOND)],
            signature=services.Signature(name="王建国"),
            actor=demo_unbound["王建国"].user,
            channel=ONLINE,
        )
    assert exc.value.messages == messages(family_errors.WINDOW_START_PAST)


def test_end_equal_to_start_is_refused(demo_unbound):  # R6
    start = NOW + DAY
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王小明"], start=start, end=start))
    assert exc.value.messages == messages(family_errors.WINDOW_END_NOT_AFTER_START)
    bind(demo_unbound["王建国"], req(demo_unbound["王小明"], start=start, end=start + SECOND))
    assert live(demo_unbound["王建国"], demo_unbound["王小明"]).window_end == start + SECOND


def test_an_open_end_is_allowed_without_a_policy_cap(demo_unbound):  # R6
    letter = bind(demo_unbound["王建国"], req(demo_unbound["王小明"]))
    assert live(demo_unbound["王建国"], demo_unbound["王小明"]).window_end is None
    assert letters.OPEN_END in letter.text


def test_a_shanghai_end_of_day_is_stored_in_utc_and_printed_in_local_time(demo_unbound):  # R6
    end = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)
    letter = bind(demo_unbound["王建国"], req(demo_unbound["王小明"], end=end))
    auth = live(demo_unbound["王建国"], demo_unbound["王小明"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT window_end AT TIME ZONE 'UTC' FROM family_authorization WHERE id = %s",
            [auth.pk],
        )
        (stored,) = cursor.fetchone()
    # AT TIME ZONE 'UTC' gives a timestamp without time zone: a naive UTC wall clock, on purpose
    assert stored == dt.datetime(2026, 12, 31, 15, 59, 59)  # noqa: DTZ001
    assert auth.window_end == end
    assert "至2026年12月31日 23:59:59止" in letter.text


def test_window_change_keeps_start_and_checks_the_new_end(demo):  # R6, R15
    wang = demo["王建国"]
    auth = live(wang, demo["王小明"])

    def change(end, **kw):
        return services.authorization_window_change(
            authorization=auth,
            window_start=kw.get("start"),
            window_end=end,
            signature=services.Signature(name="王建国"),
            actor=wang.user,
            channel=ONLINE,
            at=NOW,
        )

    with pytest.raises(ValidationError) as exc:
        change(NOW - SECOND)  # after its start (2025-01-01) but already passed
    assert exc.value.messages == messages(family_errors.WINDOW_END_PAST)
    with pytest.raises(ValidationError) as exc:
        change(NOW + DAY, start=NOW - SECOND)
    assert exc.value.messages == messages(family_errors.WINDOW_START_PAST)
    with pytest.raises(ValidationError) as exc:
        change(NOW + DAY, start=NOW + DAY)
    assert exc.value.messages == messages(family_errors.WINDOW_END_NOT_AFTER_START)
    assert live(wang, demo["王小明"]).window_end is None

    change(NOW + DAY)
    auth.refresh_from_db()
    assert auth.window_start == dt.datetime(2025, 1, 1, tzinfo=SHANGHAI)
    assert auth.window_end == NOW + DAY


# ---------------------------------------------------------------------------------------------
# R7 commitment letter


def test_the_letter_records_holder_members_relations_windows_version_and_signature(
    demo_unbound,
):  # R7
    wang, xiaoming, desheng = demo_unbound["王建国"], demo_unbound["王小明"], demo_unbound["王德胜"]
    end = dt.datetime(2027, 6, 30, 23, 59, 59, tzinfo=SHANGHAI)
    letter = bind(wang, req(xiaoming), req(desheng, Relation.PARENT, start=NOW + DAY, end=end))

    assert letter.content_hash == CommitmentLetter.hash_text(letter.text)
    assert letter.text_intact
    assert (letter.holder, letter.signed_at, letter.channel) == (wang, NOW, ONLINE)
    assert (letter.signed_name, letter.signed_by) == ("王建国", wang.user)
    assert letter.template_version == "relationship_letter/2025.1"
    assert letter.purpose == CommitmentLetter.Purpose.BIND
    assert set(letter.authorizations.all()) == set(
        Authorization.objects.live().filter(relationship=letter.relationship)
    )
    for text in (
        "王建国",
        wang.masked_id_number,
        f"1. 王小明（子女，身份证号码 {xiaoming.masked_id_number}）",
        f"2. 王德胜（父母，身份证号码 {desheng.masked_id_number}）",
        "自2026年11月24日 10:00:00起，至2027年06月30日 23:59:59止",
        "relationship_letter/2025.1",
    ):
        assert text in letter.text
    assert desheng.id_number not in letter.text  # identity numbers masked on paper


def test_a_changed_window_needs_a_new_letter_and_the_old_one_stays(demo):  # R7, R15
    wang = demo["王建国"]
    old = CommitmentLetter.objects.get(holder=wang)
    old_text = old.text
    auth = live(wang, demo["王德胜"])
    mark = audit_mark()

    new = services.authorization_window_change(
        authorization=auth,
        window_start=None,
        window_end=dt.datetime(2027, 12, 31, 23, 59, 59, tzinfo=SHANGHAI),
        signature=services.Signature(name="王建国"),
        actor=wang.user,
        channel=ONLINE,
        at=NOW,
    )
    assert new.pk != old.pk
    assert new.purpose == CommitmentLetter.Purpose.CHANGE_WINDOW
    assert "至2027年12月31日 23:59:59止" in new.text
    assert "至2026年12月31日 23:59:59止" not in new.text
    assert set(new.authorizations.all()) == set(
        Authorization.objects.live().filter(relationship=auth.relationship)
    )
    old.refresh_from_db()
    assert old.text == old_text and old.text_intact
    assert actions_since(mark) == ["authorization.window_change", "letter.sign"]
    entry = audit_since(mark)[0]
    assert entry.before["window_end"] != entry.after["window_end"]


def test_an_added_member_needs_a_new_letter_covering_everyone(demo):  # R7
    wang = demo["王建国"]
    letter = bind(wang, req(demo["王丽"]))
    assert letter.purpose == CommitmentLetter.Purpose.ADD_MEMBERS
    assert CommitmentLetter.objects.filter(holder=wang).count() == 2
    assert sorted(a.member.name for a in letter.authorizations.all()) == [
        "王丽",
        "王小明",
        "王德胜",
    ]
    assert all(name in letter.text for name in ("王小明", "王德胜", "王丽"))


def test_a_signature_that_is_not_the_holders_name_is_refused(demo_unbound):  # R7
    mark = audit_mark()
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王小明"]), name="王建")
    assert exc.value.messages == messages(family_errors.SIGNATURE_NAME_MISMATCH)
    assert nothing_written() and actions_since(mark) == []


def test_an_invalid_drawn_signature_is_refused_and_a_png_is_kept(demo_unbound):  # R7
    def sign(image):
        return services.relationship_bind(
            holder=demo_unbound["王建国"],
            members=[req(demo_unbound["王小明"])],
            signature=services.Signature(name="王建国", image=image),
            actor=demo_unbound["王建国"].user,
            channel=ONLINE,
            at=NOW,
        )

    for image in ("data:image/svg+xml;base64,PHN2Zz4=", "data:image/png;base64,iVBORw0KGgo="):
        with pytest.raises(ValidationError) as exc:
            sign(image)  # an SVG; the PNG signature bytes with no image after them
        assert exc.value.messages == messages(services.SIGNATURE_IMAGE_INVALID)
    png = signature_png()
    # Kept re-encoded (tests/family/test_signature_image.py: bombs, trailing bytes, metadata).
    assert sign(png).signature_image == services.signature_image_clean(png)


def test_a_letter_changed_since_it_was_read_is_refused_and_nothing_is_written(demo_unbound):  # R7
    wang = demo_unbound["王建国"]
    members = [req(demo_unbound["王小明"])]
    _version, text = family_selectors.letter_preview_for_binding(
        holder=wang, members=members, channel=ONLINE
    )
    mark = audit_mark()
    with pytest.raises(ValidationError) as exc:
        bind(wang, *members, expected_hash=CommitmentLetter.hash_text(text + "x"))
    assert exc.value.messages == messages(family_errors.LETTER_CHANGED)
    assert nothing_written() and actions_since(mark) == []

    letter = bind(wang, *members, expected_hash=CommitmentLetter.hash_text(text))
    assert letter.text == text


def test_online_only_the_holders_own_login_signs(demo_unbound):  # R7, R22
    with pytest.raises(ValidationError) as exc:
        bind(demo_unbound["王建国"], req(demo_unbound["王小明"]), actor=demo_unbound["李秀英"].user)
    assert exc.value.messages == messages(family_errors.NOT_THE_HOLDER)
    with pytest.raises(ValidationError) as exc:  # 周芳 never activated: nobody signs online
        bind(
            demo_unbound["周芳"],
            req(demo_unbound["王德胜"], Relation.PARENT),
            actor=demo_unbound["王建国"].user,
        )
    assert exc.value.messages == messages(family_errors.NOT_THE_HOLDER)
    with pytest.raises(ValidationError) as exc:  # a citizen cannot act "at the counter"
        bind(demo_unbound["王建国"], req(demo_unbound["王小明"]), channel=COUNTER)
    assert exc.value.messages == messages(family_errors.NOT_THE_HOLDER)
    assert nothing_written()


def test_a_window_change_is_signed_by_the_holder_only(demo):  # R7
    auth = live(demo["王建国"], demo["王小明"])
    for actor, name, message in [
        (demo["李秀英"].user, "王建国", family_errors.NOT_THE_HOLDER),
        (demo["王建国"].user, "李秀英", family_errors.SIGNATURE_NAME_MISMATCH),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.authorization_window_change(
                authorization=auth,
                window_start=None,
                window_end=NOW + DAY,
                signature=services.Signature(name=name),
                actor=actor,
                channel=ONLINE,
                at=NOW,
            )
        assert exc.value.messages == messages(message)
    assert live(demo["王建国"], demo["王小明"]).window_end is None
    assert CommitmentLetter.objects.filter(holder=demo["王建国"]).count() == 1


# ---------------------------------------------------------------------------------------------
# R21 region-policy settings


def test_cap_on_members_bound_at_once(demo_unbound):  # R21
    policy_set("320100", max_members_at_once=1)
    wang = demo_unbound["王建国"]
    with pytest.raises(ValidationError) as exc:
        bind(wang, req(demo_unbound["王小明"]), req(demo_unbound["王德胜"], Relation.PARENT))
    assert exc.value.messages == messages(family_errors.MEMBERS_AT_ONCE_CAP, cap=1)
    assert nothing_written()

    bind(wang, req(demo_unbound["王小明"]))
    with pytest.raises(ValidationError) as exc:
        bind(wang, req(demo_unbound["王德胜"], Relation.PARENT))
    assert exc.value.messages == messages(family_errors.MEMBERS_AT_ONCE_CAP, cap=1)

    services.authorization_revoke(
        authorization=live(wang, demo_unbound["王小明"]), actor=wang.user, channel=ONLINE, at=NOW
    )
    bind(wang, req(demo_unbound["王德胜"], Relation.PARENT), at=NOW + SECOND)
    assert live(wang, demo_unbound["王德胜"]).is_live


def test_cap_on_members_over_a_lifetime_counts_a_rebound_person_once(demo_unbound):  # R21
    policy_set("320100", max_members_lifetime=2)
    wang, xiaoming = demo_unbound["王建国"], demo_unbound["王小明"]
    bind(wang, req(xiaoming), req(demo_unbound["王德胜"], Relation.PARENT))
    services.authorization_revoke(
        authorization=live(wang, xiaoming), actor=wang.user, channel=ONLINE, at=NOW
    )
    bind(wang, req(xiaoming), at=NOW + SECOND)  # the same person again: still two people
    assert Authorization.objects.filter(holder=wang, member=xiaoming).count() == 2

    with pytest.raises(ValidationError) as exc:
        bind(wang, req(demo_unbound["周芳"], Relation.SIBLING), at=NOW + 2 * SECOND)
    assert exc.value.messages == messages(family_errors.MEMBERS_LIFETIME_CAP, cap=2)


def test_a_declined_request_never_bound_anyone_for_the_lifetime_cap(demo_unbound):  # R21
    policy_set("320100", max_members_lifetime=1)
    wang = demo_unbound["王建国"]
    bind(wang, req(demo_unbound["王丽"]))
    answer(live(wang, demo_unbound["王丽"]), demo_unbound["王丽"], agree=False)
    bind(wang, req(demo_unbound["王小明"]), at=NOW + DAY)
    assert live(wang, demo_unbound["王小明"]).status == A.ACTIVE


def test_a_capped_window_length(demo_unbound):  # R21, R6
    policy_set("320100", max_window_days=365)
    wang, xiaoming = demo_unbound["王建国"], demo_unbound["王小明"]
    with pytest.raises(ValidationError) as exc:
        bind(wang, req(xiaoming))
    assert exc.value.messages == messages(family_errors.WINDOW_END_REQUIRED, days=365)
    with pytest.raises(ValidationError) as exc:
        bind(wang, req(xiaoming, start=NOW + DAY, end=NOW + 366 * DAY + SECOND))
    assert exc.value.messages == messages(family_errors.WINDOW_TOO_LONG, days=365)
    bind(wang, req(xiaoming, start=NOW + DAY, end=NOW + 366 * DAY))
    assert live(wang, xiaoming).window_end == NOW + 366 * DAY


def test_a_capped_window_is_measured_from_its_real_start_when_changed(demo_unbound):  # R21, R6
    policy_set("320100", max_window_days=365)
    wang, xiaoming = demo_unbound["王建国"], demo_unbound["王小明"]
    bind(wang, req(xiaoming, end=NOW + 365 * DAY))
    later = NOW + 200 * DAY

    def change(start, end):
        return services.authorization_window_change(
            authorization=live(wang, xiaoming),
            window_start=start,
            window_end=end,
            signature=services.Signature(name="王建国"),
            actor=wang.user,
            channel=ONLINE,
            at=later,
        )

    with pytest.raises(ValidationError) as exc:  # 500 days from its start
        change(None, later + 300 * DAY)
    assert exc.value.messages == messages(family_errors.WINDOW_TOO_LONG, days=365)
    with pytest.raises(ValidationError) as exc:
        change(None, None)
    assert exc.value.messages == messages(family_errors.WINDOW_END_REQUIRED, days=365)
    change(later, later + 300 * DAY)  # a new start: a new window of 300 days
    assert (live(wang, xiaoming).window_start, live(wang, xiaoming).window_end) == (
        later,
        later + 300 * DAY,
    )
