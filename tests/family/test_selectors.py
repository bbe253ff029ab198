"""Reads of the family app: use-time checks (R6, R8, R9, R10, R14, R21), records (R15), consents
and wards (R8, R22). Nothing scheduled has run in these tests: stored statuses stay as the services
left them, and the selectors must still answer correctly for the instant asked."""

import datetime as dt
from decimal import Decimal

import pytest
from django.http import Http404

from accounts.models import InsuredPerson, RegionPolicy
from family import hooks, selectors, services
from family.demo import desheng_end
from family.models import Authorization, Guardianship, Relation
from tests.clock import NOW, SHANGHAI
from tests.factories import InsuredPersonFactory, StaffUserFactory, make_id_number
from tests.family.builders import (
    COUNTER,
    DAY,
    ONLINE,
    SECOND,
    SYSTEM,
    A,
    bind,
    fresh,
    live,
    policy_set,
    req,
)

DEMO_START = dt.datetime(2025, 1, 1, 0, 0, tzinfo=SHANGHAI)
DESHENG_END = desheng_end()  # as seed_family computes it today


def holders(items):
    return [a.holder.name for a in items]


def guardian(guardian_person, ward, **kw):
    return services.guardianship_register(
        guardian=guardian_person,
        ward=ward,
        basis=kw.get("basis", Guardianship.Basis.COURT),
        document="判决书",
        valid_from=kw.get("valid_from", dt.date(2026, 1, 1)),
        valid_until=kw.get("valid_until"),
        actor=StaffUserFactory(),
        channel=COUNTER,
    )


# ---------------------------------------------------------------------------------------------
# authorizations_usable_for: the window (R6)


def test_usable_until_the_last_second_of_the_window_in_shanghai(demo):  # R6
    desheng = demo["王德胜"]
    auth = live(demo["王建国"], desheng)
    assert auth.window_end == DESHENG_END
    assert selectors.authorizations_usable_for(member=desheng, at=DESHENG_END - SECOND) == [auth]
    assert selectors.authorizations_usable_for(member=desheng, at=DESHENG_END) == [auth]


def test_unusable_the_second_after_the_end_although_nothing_has_run(demo):  # R6
    desheng = demo["王德胜"]
    after = DESHENG_END + SECOND
    assert after == dt.datetime(2027, 1, 1, 0, 0, 0, tzinfo=SHANGHAI)
    assert selectors.authorizations_usable_for(member=desheng, at=after) == []
    auth = Authorization.objects.get(member=desheng)
    assert auth.status == A.ACTIVE  # stored status unchanged: no job has expired it
    assert not selectors.is_usable(auth, after)
    assert selectors.state_label(auth, after) == str(selectors.WINDOW_PASSED)


def test_unusable_before_the_window_starts(demo):  # R6
    xiaoming = demo["王小明"]
    auth = live(demo["王建国"], xiaoming)
    assert selectors.authorizations_usable_for(member=xiaoming, at=DEMO_START - SECOND) == []
    assert selectors.state_label(auth, DEMO_START - SECOND) == str(selectors.NOT_YET_STARTED)
    assert selectors.authorizations_usable_for(member=xiaoming, at=DEMO_START) == [auth]


def test_a_minor_is_active_from_the_window_start_not_before(demo_unbound):  # R8, R6
    start = NOW + DAY
    bind(demo_unbound["王建国"], req(demo_unbound["王小明"], start=start))
    auth = live(demo_unbound["王建国"], demo_unbound["王小明"])
    assert auth.status == A.SCHEDULED  # granted, not started
    assert (
        selectors.authorizations_usable_for(member=demo_unbound["王小明"], at=start - SECOND) == []
    )
    # Usable at its start whether or not the every-minute task has made it ACTIVE yet.
    assert selectors.authorizations_usable_for(member=demo_unbound["王小明"], at=start) == [auth]
    assert selectors.state_label(auth, start) == str(A.ACTIVE.label)


def test_a_pending_request_is_not_usable(demo_unbound):  # R8
    bind(demo_unbound["王建国"], req(demo_unbound["王丽"]))
    auth = live(demo_unbound["王建国"], demo_unbound["王丽"])
    assert selectors.authorizations_usable_for(member=demo_unbound["王丽"], at=NOW + DAY) == []
    assert selectors.state_label(auth, NOW + DAY) == str(A.PENDING_CONSENT.label)
    assert selectors.deduction_order_for(member=demo_unbound["王丽"]) == [auth]  # live all the same


def test_an_overdue_request_reads_as_lapsed_before_the_lapse_job_runs(demo_unbound):  # R8
    bind(demo_unbound["王建国"], req(demo_unbound["王丽"]))
    auth = live(demo_unbound["王建国"], demo_unbound["王丽"])
    deadline = NOW + 7 * DAY
    assert selectors.state_label(auth, deadline) == str(A.PENDING_CONSENT.label)
    assert selectors.state_label(auth, deadline + SECOND) == str(A.LAPSED.label)
    assert auth.status == A.PENDING_CONSENT  # nothing has run


# ---------------------------------------------------------------------------------------------
# statuses at use time (R14)


@pytest.mark.parametrize("who", ["王建国", "王小明"])
def test_a_suspended_holder_or_member_makes_the_account_unusable(demo, who):  # R14
    services.person_status_change(
        person=demo[who],
        status=InsuredPerson.Status.SUSPENDED,
        reason="欠费",
        actor=None,
        channel=SYSTEM,
        at=NOW,
    )
    xiaoming = demo["王小明"]
    auth = live(demo["王建国"], xiaoming)
    assert auth.status == A.ACTIVE
    assert selectors.authorizations_usable_for(member=xiaoming, at=NOW) == []
    assert not selectors.is_usable(auth, NOW)
    assert selectors.state_label(auth, NOW) == str(selectors.SUSPENDED)


def test_a_status_set_behind_the_services_back_is_seen_at_use_time(demo):  # R14
    # e.g. a bulk import from the bureau's core system that did not go through the service
    InsuredPerson.objects.filter(pk=demo["马志强"].pk).update(
        status=InsuredPerson.Status.TRANSFERRED
    )
    usable = selectors.authorizations_usable_for(member=demo["马小燕"], at=NOW)
    assert holders(usable) == ["古丽娜"]


def test_an_ended_relationship_is_not_usable(demo):  # R14, R15
    wang = demo["王建国"]
    services.relationship_end(
        relationship=live(wang, demo["王小明"]).relationship,
        actor=wang.user,
        channel=ONLINE,
        at=NOW,
    )
    assert selectors.authorizations_usable_for(member=demo["王小明"], at=NOW) == []


# ---------------------------------------------------------------------------------------------
# order (R9 family part, R10, R21 fallback)


def test_usable_authorizations_come_in_the_members_deduction_order(demo):  # R9, R10
    ma, guli, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    assert holders(selectors.authorizations_usable_for(member=xiaoyan, at=NOW)) == [
        "马志强",
        "古丽娜",
    ]
    services.deduction_order_set(
        member=xiaoyan,
        ordered=[live(guli, xiaoyan), live(ma, xiaoyan)],
        actor=ma.user,
        channel=ONLINE,
        at=NOW,
    )
    assert holders(selectors.authorizations_usable_for(member=xiaoyan, at=NOW)) == [
        "古丽娜",
        "马志强",
    ]
    assert holders(selectors.deduction_order_for(member=xiaoyan)) == ["古丽娜", "马志强"]


def test_usable_for_costs_two_queries_whatever_the_number_of_holders(
    demo, django_assert_num_queries
):  # R9
    with django_assert_num_queries(2):
        assert len(selectors.authorizations_usable_for(member=demo["马小燕"], at=NOW)) == 2
    with django_assert_num_queries(2):
        assert len(selectors.authorizations_usable_for(member=demo["王小明"], at=NOW)) == 1


@pytest.fixture
def little_ma(demo_unbound):
    """A Wujiaqu child bound first by 古丽娜, then by 马志强, with no order set (R21 fallback)."""
    child = InsuredPersonFactory(
        name="马小宝",
        region=RegionPolicy.objects.get(code="659004"),
        id_number=make_id_number("659004", dt.date(2020, 3, 1), 611),
        scheme=InsuredPerson.Scheme.RESIDENT,
    )
    bind(demo_unbound["古丽娜"], req(child))
    bind(demo_unbound["马志强"], req(child), at=NOW + SECOND)
    return child


def test_without_an_order_the_fallback_is_filing_order(little_ma):  # R21, R10
    assert fresh(little_ma).region.fallback_order == RegionPolicy.FallbackOrder.FILING
    at = NOW + DAY
    assert holders(selectors.authorizations_usable_for(member=fresh(little_ma), at=at)) == [
        "古丽娜",
        "马志强",
    ]


def test_the_fallback_may_be_the_holders_balances(little_ma, monkeypatch):  # R21
    policy_set("659004", fallback_order=RegionPolicy.FallbackOrder.BALANCE)
    balances = {"马志强": Decimal("1200.00"), "古丽娜": Decimal("800.00")}
    monkeypatch.setattr(hooks, "_balance_provider", lambda person: balances.get(person.name))
    at = NOW + DAY
    assert holders(selectors.authorizations_usable_for(member=fresh(little_ma), at=at)) == [
        "马志强",
        "古丽娜",
    ]
    del balances["古丽娜"]  # a balance unknown: filing order, not a guess
    assert holders(selectors.authorizations_usable_for(member=fresh(little_ma), at=at)) == [
        "古丽娜",
        "马志强",
    ]


def test_an_order_the_member_set_beats_the_fallback(little_ma, demo_unbound):  # R10, R21
    policy_set("659004", fallback_order=RegionPolicy.FallbackOrder.FILING)
    services.deduction_order_set(
        member=little_ma,
        ordered=[live(demo_unbound["马志强"], little_ma), live(demo_unbound["古丽娜"], little_ma)],
        actor=demo_unbound["古丽娜"].user,
        channel=ONLINE,
        at=NOW + DAY,
    )
    usable = selectors.authorizations_usable_for(member=fresh(little_ma), at=NOW + DAY)
    assert holders(usable) == ["马志强", "古丽娜"]


# ---------------------------------------------------------------------------------------------
# records (R15) and labels


def test_records_keep_every_binding_and_unbinding_on_both_sides(demo):  # R15
    wang, xiaoming = demo["王建国"], demo["王小明"]
    services.authorization_revoke(
        authorization=live(wang, xiaoming), actor=wang.user, channel=ONLINE, at=NOW
    )
    bind(wang, req(xiaoming), at=NOW + SECOND)

    rows = list(selectors.records_for(person=xiaoming))
    assert [(a.status, a.created_at) for a in rows] == [
        (A.ACTIVE, NOW + SECOND),
        (A.REVOKED, dt.datetime(2024, 12, 31, 10, 0, tzinfo=SHANGHAI)),
    ]
    assert [a.member.name for a in selectors.records_for(person=wang)] == [
        "王小明",
        "王德胜",
        "王小明",
    ]
    assert [a.member.name for a in selectors.records_for(person=wang, status=A.REVOKED)] == [
        "王小明"
    ]
    assert selectors.records_for(person=demo["张伟"]).count() == 0


def test_records_filter_on_when_a_binding_was_made_or_ended(demo):  # R15
    wang, xiaoming = demo["王建国"], demo["王小明"]
    services.authorization_revoke(
        authorization=live(wang, xiaoming), actor=wang.user, channel=ONLINE, at=NOW
    )
    recent = selectors.records_for(person=wang, date_from=dt.date(2026, 11, 23))
    assert [(a.member.name, a.status) for a in recent] == [("王小明", A.REVOKED)]
    early = selectors.records_for(person=wang, date_to=dt.date(2024, 12, 31))
    assert early.count() == 2
    assert selectors.records_for(person=wang, date_to=dt.date(2024, 12, 30)).count() == 0


def test_records_cost_one_query(demo, django_assert_num_queries):  # R15
    with django_assert_num_queries(1):
        rows = list(selectors.records_for(person=demo["王建国"]))
        assert [(a.member.name, a.holder.region.code) for a in rows]


def test_state_labels(demo):
    wang, xiaoming = demo["王建国"], demo["王小明"]
    auth = live(wang, xiaoming)
    assert selectors.state_label(auth, NOW) == str(A.ACTIVE.label)
    services.authorization_revoke(authorization=auth, actor=wang.user, channel=ONLINE, at=NOW)
    auth.refresh_from_db()
    assert selectors.state_label(auth, NOW) == str(A.REVOKED.label)


# ---------------------------------------------------------------------------------------------
# consents and wards (R8, R22)


def test_pending_consents_for_the_member_and_their_guardian(demo_unbound):  # R8, R22
    wang, wangli, desheng, li = (
        demo_unbound["王建国"],
        demo_unbound["王丽"],
        demo_unbound["王德胜"],
        demo_unbound["李秀英"],
    )
    guardian(li, desheng)
    bind(wang, req(wangli), req(desheng, Relation.PARENT))
    assert selectors.consents_pending_for(person=wangli, at=NOW) == [live(wang, wangli)]
    assert selectors.consents_pending_for(person=li, at=NOW) == [live(wang, desheng)]
    assert selectors.consents_pending_for(person=demo_unbound["张伟"], at=NOW) == []
    assert selectors.consents_pending_for(person=wang, at=NOW) == []  # the holder asks, not answers
    deadline = NOW + 7 * DAY
    assert len(selectors.consents_pending_for(person=wangli, at=deadline)) == 1
    assert selectors.consents_pending_for(person=wangli, at=deadline + SECOND) == []


def test_wards_are_registered_wards_and_minors_the_person_binds(demo):  # R22, R10
    wang, guli = demo["王建国"], demo["古丽娜"]
    assert selectors.wards_for(person=wang, at=NOW) == [demo["王小明"]]  # not 王德胜
    guardian(guli, demo["马俊"], valid_until=dt.date(2026, 12, 31))
    assert selectors.wards_for(person=guli, at=NOW) == [
        demo["马俊"],
        demo["马小燕"],
    ]
    assert selectors.wards_for(person=guli, at=dt.datetime(2027, 1, 1, tzinfo=SHANGHAI)) == [
        demo["马小燕"]
    ]
    assert selectors.wards_for(person=demo["张伟"], at=NOW) == []


def test_a_ward_who_is_also_a_bound_minor_is_listed_once(demo, django_assert_num_queries):  # R22
    """Both kinds of id are one UNION (bench/pages.py: an OR across two joins scanned every
    person at volume): a minor 王建国 binds and is registered guardian of appears once, in one
    query."""
    wang = demo["王建国"]
    guardian(wang, demo["王小明"])
    with django_assert_num_queries(1):
        assert selectors.wards_for(person=wang, at=NOW) == [demo["王小明"]]


def test_a_guardianship_counts_from_its_first_local_day(demo_unbound):  # R22
    guardian(demo_unbound["王丽"], demo_unbound["王德胜"], valid_from=dt.date(2026, 11, 24))
    last_minute = dt.datetime(2026, 11, 23, 23, 59, tzinfo=SHANGHAI)
    assert selectors.wards_for(person=demo_unbound["王丽"], at=last_minute) == []
    midnight = dt.datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI)
    assert selectors.wards_for(person=demo_unbound["王丽"], at=midnight) == [demo_unbound["王德胜"]]


# ---------------------------------------------------------------------------------------------
# finding people and permission-scoped fetches


def test_person_find_for_binding_needs_number_and_name(demo_unbound):  # R3
    wang = demo_unbound["王建国"]
    assert selectors.person_find_for_binding(id_number="32010219750312123x", name=" 王建国 ") == (
        wang
    )
    assert selectors.person_find_for_binding(id_number=wang.id_number, name="王建") is None
    assert selectors.person_find_for_binding(id_number="320104197708252463", name="王建国") is None


def test_only_the_holder_fetches_an_authorization_as_holder(demo):
    auth = live(demo["王建国"], demo["王小明"])
    got = selectors.authorization_get_for_holder(user=demo["王建国"].user, public_id=auth.public_id)
    assert got == auth
    for user, public_id in [
        (demo["李秀英"].user, auth.public_id),
        (demo["王德胜"].user, auth.public_id),
        (demo["王建国"].user, "not-a-uuid"),
    ]:
        with pytest.raises(Http404):
            selectors.authorization_get_for_holder(user=user, public_id=public_id)


def test_the_member_or_their_guardian_fetches_an_authorization_as_member(demo):  # R22
    auth = live(demo["王建国"], demo["王德胜"])
    got = selectors.authorization_get_for_member(
        user=demo["王德胜"].user, public_id=auth.public_id, at=NOW
    )
    assert got == auth
    with pytest.raises(Http404):
        selectors.authorization_get_for_member(
            user=demo["王丽"].user, public_id=auth.public_id, at=NOW
        )
    guardian(demo["王丽"], demo["王德胜"])
    assert (
        selectors.authorization_get_for_member(
            user=demo["王丽"].user, public_id=auth.public_id, at=NOW
        )
        == auth
    )


def test_family_overview_of_a_holder(demo):
    overview = selectors.family_overview(person=demo["王建国"], at=NOW)
    assert [(a.member.name, a.state, a.usable) for a in overview.as_holder] == [
        ("王小明", str(A.ACTIVE.label), True),
        ("王德胜", str(A.ACTIVE.label), True),
    ]
    assert len(overview.letters) == 1
    assert overview.as_member == []
    assert overview.wards == [demo["王小明"]]
    member_view = selectors.family_overview(person=demo["马小燕"], at=NOW)
    assert holders(member_view.as_member) == ["马志强", "古丽娜"]
    assert member_view.relationship is None
