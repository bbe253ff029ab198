"""Consent (family.services: authorization_answer, consents_lapse; docs/rules.md R8, R21,
R22), built through the services.

`NOW` (2026-11-23 10:00 Asia/Shanghai) is passed as `at=`; ages at NOW: 王小明 14, 马小燕 11,
马俊 18, 王丽 20. 320100 is the exclusive Jiangsu-like policy, 659004 the multi-holder Wujiaqu
one."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from family import errors as family_errors
from family import selectors, services
from family.models import Authorization, Relation, Relationship
from tests.clock import NOW
from tests.factories import (
    InsuredPersonFactory,
    make_id_number,
)
from tests.family.builders import (
    DAY,
    SECOND,
    SYSTEM,
    A,
    actions_since,
    answer,
    audit_mark,
    audit_since,
    bind,
    live,
    messages,
    policy_set,
    register_guardian,
    req,
)


def child_in(region_code, birth, *, name, seq):
    """A resident-scheme person registered by the bureau (for ages the cast does not have)."""
    return InsuredPersonFactory(
        name=name,
        region=RegionPolicy.objects.get(code=region_code),
        id_number=make_id_number(region_code, birth, seq),
        scheme=InsuredPerson.Scheme.RESIDENT,
    )


# ---------------------------------------------------------------------------------------------
# R8 consent


def test_under_sixteen_joins_at_once_without_consent(demo_unbound):  # R8
    letter = bind(demo_unbound["王建国"], req(demo_unbound["王小明"], start=NOW + DAY))
    auth = letter.authorizations.get()
    assert (auth.status, auth.consent_needed, auth.consent_deadline) == (A.SCHEDULED, False, None)


def test_consent_age_is_counted_on_the_local_day_of_binding(demo_unbound):  # R8
    born_16_today = child_in("320100", dt.date(2010, 11, 23), name="满十六", seq=501)
    born_tomorrow = child_in("320100", dt.date(2010, 11, 24), name="差一天", seq=503)
    bind(demo_unbound["王建国"], req(born_16_today), req(born_tomorrow))
    assert live(demo_unbound["王建国"], born_16_today).status == A.PENDING_CONSENT
    assert live(demo_unbound["王建国"], born_tomorrow).status == A.ACTIVE


def test_from_sixteen_the_member_must_consent_with_their_password(demo_unbound):  # R8, R20
    wang, wangli = demo_unbound["王建国"], demo_unbound["王丽"]
    bind(wang, req(wangli))
    auth = live(wang, wangli)
    assert (auth.status, auth.consent_needed) == (A.PENDING_CONSENT, True)
    assert auth.consent_deadline == NOW + 7 * DAY
    assert selectors.authorizations_usable_for(member=wangli, at=NOW + SECOND) == []

    mark = audit_mark()
    answer(auth, wangli, at=NOW + DAY)
    auth.refresh_from_db()
    assert (auth.status, auth.answered_at, auth.answered_by) == (
        A.ACTIVE,
        NOW + DAY,
        wangli.user,
    )
    entry = AuditEntry.objects.get(id__gt=mark)
    assert (entry.action, entry.actor, entry.person) == (
        "authorization.consent",
        wangli.user,
        wangli,
    )
    assert (entry.before["status"], entry.after["status"]) == (A.PENDING_CONSENT, A.ACTIVE)
    assert selectors.authorizations_usable_for(member=wangli, at=NOW + DAY) == [auth]


def test_a_member_may_decline(demo_unbound):  # R8
    wang, wangli = demo_unbound["王建国"], demo_unbound["王丽"]
    bind(wang, req(wangli))
    auth = live(wang, wangli)
    mark = audit_mark()
    answer(auth, wangli, agree=False, at=NOW + DAY)
    auth.refresh_from_db()
    assert (auth.status, auth.ended_at) == (A.DECLINED, NOW + DAY)
    # nobody left: the relationship ends, so the holder is free under the exclusive policy
    assert actions_since(mark) == ["authorization.decline", "relationship.end"]
    relationship = Relationship.objects.get(pk=auth.relationship_id)
    assert relationship.end_reason == Relationship.EndReason.NO_MEMBERS


def test_a_wrong_password_changes_nothing(demo_unbound):  # R8
    wang, wangli = demo_unbound["王建国"], demo_unbound["王丽"]
    bind(wang, req(wangli))
    auth = live(wang, wangli)
    mark = audit_mark()
    with pytest.raises(ValidationError) as exc:
        answer(auth, wangli, password="not-her-password")
    assert exc.value.messages == messages(family_errors.CONSENT_VERIFICATION_FAILED)
    auth.refresh_from_db()
    assert (auth.status, auth.answered_at, auth.answered_by) == (A.PENDING_CONSENT, None, None)
    assert actions_since(mark) == []


def test_consent_is_possible_until_the_deadline_and_refused_after(demo_unbound):  # R8
    wang, wangli, desheng = demo_unbound["王建国"], demo_unbound["王丽"], demo_unbound["王德胜"]
    bind(wang, req(wangli), req(desheng, Relation.PARENT))
    deadline = NOW + 7 * DAY
    with pytest.raises(ValidationError) as exc:
        answer(live(wang, wangli), wangli, at=deadline + SECOND)
    assert exc.value.messages == messages(family_errors.CONSENT_LAPSED)
    assert live(wang, wangli).status == A.PENDING_CONSENT

    answer(live(wang, desheng), desheng, at=deadline)
    assert live(wang, desheng).status == A.ACTIVE


def test_unanswered_requests_lapse_once_and_are_audited(demo_unbound):  # R8, R20
    wang, wangli = demo_unbound["王建国"], demo_unbound["王丽"]
    bind(wang, req(wangli), req(demo_unbound["王德胜"], Relation.PARENT))
    deadline = NOW + 7 * DAY
    answer(live(wang, demo_unbound["王德胜"]), demo_unbound["王德胜"], at=NOW + DAY)

    assert services.consents_lapse(at=deadline) == 0  # not overdue at the deadline itself
    mark = audit_mark()
    assert services.consents_lapse(at=deadline + SECOND) == 1
    auth = Authorization.objects.get(member=wangli)
    assert (auth.status, auth.ended_at) == (A.LAPSED, deadline + SECOND)
    entries = audit_since(mark)
    assert [(e.action, e.actor, e.channel, e.person) for e in entries] == [
        ("authorization.lapse", None, SYSTEM, wangli)
    ]
    assert Relationship.objects.get(holder=wang).status == Relationship.Status.ACTIVE  # 王德胜

    mark = audit_mark()
    assert services.consents_lapse(at=deadline + DAY) == 0
    assert actions_since(mark) == []
    with pytest.raises(ValidationError) as exc:
        answer(auth, wangli, at=deadline + DAY)
    assert exc.value.messages == messages(family_errors.CONSENT_NOT_PENDING)


def test_a_lapse_that_empties_the_relationship_ends_it(demo_unbound):  # R8
    bind(demo_unbound["王建国"], req(demo_unbound["王丽"]))
    mark = audit_mark()
    assert services.consents_lapse(at=NOW + 8 * DAY) == 1
    assert actions_since(mark) == ["authorization.lapse", "relationship.end"]
    assert (
        Relationship.objects.get(holder=demo_unbound["王建国"]).status == Relationship.Status.ENDED
    )


def test_a_stranger_cannot_answer(demo_unbound):  # R8, R22
    bind(demo_unbound["王建国"], req(demo_unbound["王丽"]))
    with pytest.raises(ValidationError) as exc:
        answer(live(demo_unbound["王建国"], demo_unbound["王丽"]), demo_unbound["张伟"])
    assert exc.value.messages == messages(family_errors.CONSENT_NOT_YOURS)
    with pytest.raises(ValidationError) as exc:  # not the holder either
        answer(live(demo_unbound["王建国"], demo_unbound["王丽"]), demo_unbound["王建国"])
    assert exc.value.messages == messages(family_errors.CONSENT_NOT_YOURS)
    assert live(demo_unbound["王建国"], demo_unbound["王丽"]).status == A.PENDING_CONSENT


# ---------------------------------------------------------------------------------------------
# R22 guardians


def test_a_guardian_answers_for_an_incapacitated_adult_and_the_member_alone_cannot(
    demo_unbound, staff
):  # R8, R22
    wang, desheng, wangli = demo_unbound["王建国"], demo_unbound["王德胜"], demo_unbound["王丽"]
    register_guardian(wangli, desheng, staff)
    bind(wang, req(desheng, Relation.PARENT))
    auth = live(wang, desheng)

    with pytest.raises(ValidationError) as exc:
        answer(auth, desheng)
    assert exc.value.messages == messages(family_errors.CONSENT_GUARDIAN_REQUIRED)
    assert live(wang, desheng).status == A.PENDING_CONSENT

    answer(auth, wangli)  # her own password, her own login
    auth.refresh_from_db()
    assert (auth.status, auth.answered_by) == (A.ACTIVE, wangli.user)
    entry = AuditEntry.objects.filter(action="authorization.consent").get()
    assert (entry.actor, entry.person) == (wangli.user, desheng)


def test_an_expired_guardianship_gives_no_right_to_answer(demo_unbound, staff):  # R22
    register_guardian(
        demo_unbound["王丽"], demo_unbound["王德胜"], staff, valid_until=dt.date(2026, 11, 22)
    )
    bind(demo_unbound["王建国"], req(demo_unbound["王德胜"], Relation.PARENT))
    with pytest.raises(ValidationError) as exc:
        answer(live(demo_unbound["王建国"], demo_unbound["王德胜"]), demo_unbound["王丽"])
    assert exc.value.messages == messages(family_errors.CONSENT_NOT_YOURS)
    answer(
        live(demo_unbound["王建国"], demo_unbound["王德胜"]), demo_unbound["王德胜"]
    )  # capable again: he answers
    assert live(demo_unbound["王建国"], demo_unbound["王德胜"]).status == A.ACTIVE


# ---------------------------------------------------------------------------------------------
# R21 region-policy settings


def test_spouse_confirmation_without_any_consent_age(demo_unbound):  # R21, R8
    policy_set("320100", consent_age=None, spouse_confirmation=True)
    wang, li, wangli = demo_unbound["王建国"], demo_unbound["李秀英"], demo_unbound["王丽"]
    bind(wang, req(li, Relation.SPOUSE), req(wangli))
    assert live(wang, li).status == A.PENDING_CONSENT
    assert live(wang, li).consent_deadline == NOW + 7 * DAY
    assert live(wang, wangli).status == A.ACTIVE  # 20, but no consent age in this policy
    answer(live(wang, li), li, at=NOW + DAY)
    assert live(wang, li).status == A.ACTIVE


def test_without_spouse_confirmation_a_spouse_follows_the_consent_age(demo_unbound):  # R21, R8
    policy_set("320100", consent_age=None, spouse_confirmation=False)
    bind(demo_unbound["王建国"], req(demo_unbound["李秀英"], Relation.SPOUSE))
    assert live(demo_unbound["王建国"], demo_unbound["李秀英"]).status == A.ACTIVE
