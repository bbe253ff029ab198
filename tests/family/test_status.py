"""Status (family.services: person_status_change, person_relationships_terminate,
guardianship_register; docs/rules.md R14, R18, R20, R22), built through the services; and that a
citizen cannot act through a staff channel in any of the writes.

`NOW` (2026-11-23 10:00 Asia/Shanghai) is passed as `at=`; ages at NOW: 王小明 14, 马小燕 11,
马俊 18, 王丽 20. 320100 is the exclusive Jiangsu-like policy, 659004 the multi-holder Wujiaqu
one."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry, InsuredPerson
from family import errors as family_errors
from family import selectors, services
from family.models import Authorization, Guardianship, Relationship
from tests.clock import NOW
from tests.family.builders import (
    COUNTER,
    ONLINE,
    PERSON,
    SYSTEM,
    A,
    actions_since,
    audit_mark,
    audit_since,
    live,
    messages,
    register_guardian,
)

# ---------------------------------------------------------------------------------------------
# R22 guardians


def test_guardianship_is_registered_and_audited(demo_unbound, staff):  # R22, R20
    mark = audit_mark()
    guardianship = register_guardian(demo_unbound["王丽"], demo_unbound["王德胜"], staff)
    entry = AuditEntry.objects.get(id__gt=mark)
    assert (entry.action, entry.actor, entry.channel, entry.person) == (
        "guardianship.register",
        staff,
        COUNTER,
        demo_unbound["王德胜"],
    )
    assert entry.object_id == str(guardianship.public_id)


def test_nobody_is_their_own_guardian(demo_unbound, staff):  # R22
    with pytest.raises(ValidationError) as exc:
        register_guardian(demo_unbound["王丽"], demo_unbound["王丽"], staff)
    assert exc.value.messages == messages(family_errors.GUARDIAN_SELF)
    with pytest.raises(ValidationError):  # dates out of order
        register_guardian(
            demo_unbound["王丽"], demo_unbound["王德胜"], staff, valid_until=dt.date(2025, 12, 31)
        )
    assert not Guardianship.objects.exists()


# ---------------------------------------------------------------------------------------------
# R14 insured status


@pytest.mark.parametrize("status", [PERSON.TRANSFERRED, PERSON.TERMINATED])
def test_a_holder_transferred_or_terminated_ends_everything_they_hold(
    demo, staff, status
):  # R14, R20
    wang = demo["王建国"]
    mark = audit_mark()
    services.person_status_change(
        person=wang, status=status, reason="转往外省", actor=staff, channel=COUNTER, at=NOW
    )
    rows = Authorization.objects.filter(holder=wang).order_by("pk")
    assert [(a.member.name, a.status, a.ended_at) for a in rows] == [
        ("王小明", A.TERMINATED, NOW),
        ("王德胜", A.TERMINATED, NOW),
    ]
    relationship = Relationship.objects.get(holder=wang)
    assert (relationship.status, relationship.ended_at, relationship.end_reason) == (
        Relationship.Status.ENDED,
        NOW,
        Relationship.EndReason.HOLDER_STATUS,
    )
    entries = audit_since(mark)
    assert [(e.action, e.person.name) for e in entries] == [
        ("person.status_change", "王建国"),
        ("authorization.terminate", "王小明"),
        ("authorization.terminate", "王德胜"),
        ("relationship.end", "王建国"),
    ]
    assert entries[0].before["status"] == PERSON.NORMAL
    assert entries[0].before["reason"] == "转往外省"
    assert entries[0].after["status"] == status
    assert {(e.actor, e.channel) for e in entries} == {(staff, COUNTER)}
    assert selectors.authorizations_usable_for(member=demo["王小明"], at=NOW) == []


@pytest.mark.parametrize("status", [PERSON.TRANSFERRED, PERSON.TERMINATED])
def test_a_member_transferred_or_terminated_ends_their_authorizations(demo, staff, status):  # R14
    wang = demo["王建国"]
    services.person_status_change(
        person=demo["王小明"], status=status, reason="", actor=staff, channel=COUNTER, at=NOW
    )
    assert Authorization.objects.get(member=demo["王小明"]).status == A.TERMINATED
    relationship = Relationship.objects.get(holder=wang)
    assert relationship.status == Relationship.Status.ACTIVE  # 王德胜 is still in it

    mark = audit_mark()
    services.person_status_change(
        person=demo["王德胜"], status=status, reason="", actor=None, channel=SYSTEM, at=NOW
    )
    assert actions_since(mark) == [
        "person.status_change",
        "authorization.terminate",
        "relationship.end",
    ]
    relationship.refresh_from_db()
    assert (relationship.status, relationship.end_reason) == (
        Relationship.Status.ENDED,
        Relationship.EndReason.NO_MEMBERS,
    )


def test_a_member_of_several_holders_leaving_the_region_ends_both_bindings(demo):  # R14
    xiaoyan = demo["马小燕"]
    services.person_status_change(
        person=xiaoyan, status=PERSON.TRANSFERRED, reason="", actor=None, channel=SYSTEM, at=NOW
    )
    rows = Authorization.objects.filter(member=xiaoyan)
    assert {(a.holder.name, a.status, a.deduction_position) for a in rows} == {
        ("马志强", A.TERMINATED, None),
        ("古丽娜", A.TERMINATED, None),
    }
    assert set(
        Relationship.objects.filter(holder__in=[demo["马志强"], demo["古丽娜"]]).values_list(
            "status", flat=True
        )
    ) == {Relationship.Status.ENDED}


def test_one_of_two_holders_terminated_leaves_the_other_paying(demo):  # R14, R9
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    services.person_status_change(
        person=ma, status=PERSON.TERMINATED, reason="死亡", actor=None, channel=SYSTEM, at=NOW
    )
    assert live(demo["古丽娜"], xiaoyan).status == A.ACTIVE
    usable = selectors.authorizations_usable_for(member=xiaoyan, at=NOW)
    assert [a.holder.name for a in usable] == ["古丽娜"]


@pytest.mark.parametrize("who", ["王建国", "王小明"])
def test_suspension_ends_nothing_but_the_account_cannot_be_used(demo, who):  # R14
    xiaoming = demo["王小明"]
    before = list(Authorization.objects.order_by("pk").values_list("status", "ended_at"))
    services.person_status_change(
        person=demo[who],
        status=PERSON.SUSPENDED,
        reason="欠费",
        actor=None,
        channel=SYSTEM,
        at=NOW,
    )
    assert list(Authorization.objects.order_by("pk").values_list("status", "ended_at")) == before
    assert Relationship.objects.get(holder=demo["王建国"]).status == "active"
    assert selectors.authorizations_usable_for(member=xiaoming, at=NOW) == []
    assert selectors.state_label(live(demo["王建国"], xiaoming), NOW) == str(selectors.SUSPENDED)

    services.person_status_change(
        person=demo[who], status=PERSON.NORMAL, reason="补缴", actor=None, channel=SYSTEM
    )
    assert len(selectors.authorizations_usable_for(member=xiaoming, at=NOW)) == 1


def test_a_status_that_does_not_change_is_refused(demo_unbound):  # R14
    mark = audit_mark()
    with pytest.raises(ValidationError) as exc:
        services.person_status_change(
            person=demo_unbound["王建国"],
            status=PERSON.NORMAL,
            reason="",
            actor=None,
            channel=SYSTEM,
        )
    assert exc.value.messages == messages(family_errors.STATUS_UNCHANGED)
    assert actions_since(mark) == []


def test_terminating_relationships_twice_ends_nothing_more(demo):  # R14
    wang = demo["王建国"]
    services.person_status_change(
        person=wang, status=PERSON.TRANSFERRED, reason="", actor=None, channel=SYSTEM, at=NOW
    )
    mark = audit_mark()
    assert (
        services.person_relationships_terminate(person=wang, actor=None, channel=SYSTEM, at=NOW)
        == 0
    )
    assert actions_since(mark) == []


# ---------------------------------------------------------------------------------------------
# R21 region-policy settings


@pytest.mark.parametrize("channel", [COUNTER, AuditEntry.Channel.ADMIN])
def test_a_citizen_cannot_act_through_a_staff_channel(demo, channel):  # R18, R20
    p = demo
    desheng = live(p["王建国"], p["王德胜"])
    calls = [
        lambda: services.authorization_revoke(
            authorization=desheng, actor=p["王建国"].user, channel=channel
        ),
        lambda: services.authorization_leave(
            authorization=desheng, actor=p["王德胜"].user, channel=channel
        ),
        lambda: services.relationship_end(
            relationship=desheng.relationship, actor=p["王建国"].user, channel=channel
        ),
        lambda: services.authorization_cap_set(
            authorization=desheng, cap=Decimal("10.00"), actor=p["王建国"].user, channel=channel
        ),
        lambda: services.deduction_order_set(
            member=p["王德胜"], ordered=[desheng], actor=p["王德胜"].user, channel=channel
        ),
        lambda: services.person_status_change(
            person=p["王德胜"],
            status=InsuredPerson.Status.TERMINATED,
            reason="x",
            actor=p["王建国"].user,
            channel=channel,
        ),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as exc:
            call()
        assert exc.value.messages == messages(family_errors.STAFF_CHANNEL_ONLY)
    desheng.refresh_from_db()
    assert desheng.status == A.ACTIVE and desheng.payment_cap is None
    assert desheng.deduction_position is None


def test_insured_status_is_never_changed_online(demo):  # R14
    p = demo
    with pytest.raises(ValidationError) as exc:
        services.person_status_change(
            person=p["王德胜"],
            status=InsuredPerson.Status.TERMINATED,
            reason="x",
            actor=p["王德胜"].user,
            channel=ONLINE,
        )
    assert exc.value.messages == messages(family_errors.STAFF_CHANNEL_ONLY)
    p["王德胜"].refresh_from_db()
    assert p["王德胜"].status == InsuredPerson.Status.NORMAL
