"""Ending (family.services: authorization_revoke, authorization_leave, relationship_end;
docs/rules.md R15, R22), built through the services.

`NOW` (2026-11-23 10:00 Asia/Shanghai) is passed as `at=`; ages at NOW: 王小明 14, 马小燕 11,
马俊 18, 王丽 20. 320100 is the exclusive Jiangsu-like policy, 659004 the multi-holder Wujiaqu
one."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry
from family import errors as family_errors
from family import selectors, services
from family.models import Authorization, CommitmentLetter, Relationship
from tests.clock import NOW
from tests.family.builders import (
    ONLINE,
    SECOND,
    A,
    actions_since,
    audit_mark,
    bind,
    live,
    messages,
    register_guardian,
    req,
)

# ---------------------------------------------------------------------------------------------
# R22 guardians


def test_a_guardian_may_take_the_ward_out(demo, staff):  # R15, R22
    wang, desheng, wangli = demo["王建国"], demo["王德胜"], demo["王丽"]
    register_guardian(wangli, desheng, staff)
    services.authorization_leave(
        authorization=live(wang, desheng), actor=wangli.user, channel=ONLINE, at=NOW
    )
    assert Authorization.objects.get(member=desheng).status == A.LEFT


# ---------------------------------------------------------------------------------------------
# R15 revoke, leave, end, records


def test_the_holder_revokes_one_member_and_the_relationship_goes_on(demo):  # R15, R20
    wang, xiaoming = demo["王建国"], demo["王小明"]
    auth = live(wang, xiaoming)
    mark = audit_mark()
    services.authorization_revoke(
        authorization=auth, actor=wang.user, channel=ONLINE, reason="孩子转学外地", at=NOW
    )
    auth.refresh_from_db()
    assert (auth.status, auth.ended_at, auth.end_note) == (A.REVOKED, NOW, "孩子转学外地")
    entry = AuditEntry.objects.get(id__gt=mark)
    assert (entry.action, entry.actor, entry.channel, entry.person) == (
        "authorization.revoke",
        wang.user,
        ONLINE,
        xiaoming,
    )
    assert (entry.before["status"], entry.after["status"]) == (A.ACTIVE, A.REVOKED)
    assert Relationship.objects.get(holder=wang).status == Relationship.Status.ACTIVE
    assert list(selectors.records_for(person=xiaoming)) == [auth]  # still queryable


def test_revoking_the_last_member_ends_the_relationship(demo):  # R15
    wang = demo["王建国"]
    for name in ("王小明", "王德胜"):
        mark = audit_mark()
        services.authorization_revoke(
            authorization=live(wang, demo[name]), actor=wang.user, channel=ONLINE, at=NOW
        )
    assert actions_since(mark) == ["authorization.revoke", "relationship.end"]
    assert Relationship.objects.get(holder=wang).end_reason == Relationship.EndReason.NO_MEMBERS


def test_only_the_holder_revokes_and_only_once(demo):  # R15
    wang, xiaoming = demo["王建国"], demo["王小明"]
    auth = live(wang, xiaoming)
    with pytest.raises(ValidationError) as exc:
        services.authorization_revoke(
            authorization=auth, actor=demo["李秀英"].user, channel=ONLINE, at=NOW
        )
    assert exc.value.messages == messages(family_errors.NOT_THE_HOLDER)
    services.authorization_revoke(authorization=auth, actor=wang.user, channel=ONLINE, at=NOW)
    with pytest.raises(ValidationError) as exc:
        services.authorization_revoke(authorization=auth, actor=wang.user, channel=ONLINE, at=NOW)
    assert exc.value.messages == messages(family_errors.NOT_LIVE)


def test_a_member_leaves_and_a_stranger_cannot_make_them(demo):  # R15, R20
    wang, desheng = demo["王建国"], demo["王德胜"]
    auth = live(wang, desheng)
    with pytest.raises(ValidationError) as exc:
        services.authorization_leave(
            authorization=auth, actor=demo["张伟"].user, channel=ONLINE, at=NOW
        )
    assert exc.value.messages == messages(family_errors.CONSENT_NOT_YOURS)
    mark = audit_mark()
    services.authorization_leave(authorization=auth, actor=desheng.user, channel=ONLINE, at=NOW)
    auth.refresh_from_db()
    assert (auth.status, auth.ended_at) == (A.LEFT, NOW)
    entry = AuditEntry.objects.get(id__gt=mark)
    assert (entry.action, entry.actor, entry.person) == (
        "authorization.leave",
        desheng.user,
        desheng,
    )
    with pytest.raises(ValidationError) as exc:
        services.authorization_leave(authorization=auth, actor=desheng.user, channel=ONLINE)
    assert exc.value.messages == messages(family_errors.NOT_LIVE)


def test_the_holder_ends_the_whole_relationship_and_may_set_up_again(demo):  # R15, R4
    wang = demo["王建国"]
    relationship = Relationship.objects.get(holder=wang)
    with pytest.raises(ValidationError) as exc:
        services.relationship_end(
            relationship=relationship, actor=demo["李秀英"].user, channel=ONLINE, at=NOW
        )
    assert exc.value.messages == messages(family_errors.NOT_THE_HOLDER)

    mark = audit_mark()
    services.relationship_end(relationship=relationship, actor=wang.user, channel=ONLINE, at=NOW)
    assert actions_since(mark) == [
        "authorization.revoke",
        "authorization.revoke",
        "relationship.end",
    ]
    relationship.refresh_from_db()
    assert (relationship.status, relationship.end_reason) == (
        Relationship.Status.ENDED,
        Relationship.EndReason.HOLDER_ENDED,
    )
    assert not Authorization.objects.live().filter(holder=wang).exists()
    with pytest.raises(ValidationError) as exc:
        services.relationship_end(relationship=relationship, actor=wang.user, channel=ONLINE)
    assert exc.value.messages == messages(family_errors.NOT_LIVE)

    letter = bind(wang, req(demo["王小明"]), at=NOW + SECOND)
    assert letter.purpose == CommitmentLetter.Purpose.BIND
    assert Relationship.objects.filter(holder=wang).count() == 2
    assert len(selectors.records_for(person=wang)) == 3  # two ended, one new
