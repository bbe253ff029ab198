"""Order (family.services: deduction_order_set, deduction_order_move, authorization_cap_set;
docs/rules.md R10, R21), built through the services.

`NOW` (2026-11-23 10:00 Asia/Shanghai) is passed as `at=`; ages at NOW: 王小明 14, 马小燕 11,
马俊 18, 王丽 20. 320100 is the exclusive Jiangsu-like policy, 659004 the multi-holder Wujiaqu
one."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry
from family import errors as family_errors
from family import selectors, services
from family.models import Authorization, Guardianship
from tests.clock import NOW
from tests.factories import (
    citizen_activate,
)
from tests.family.builders import (
    DAY,
    ONLINE,
    SECOND,
    answer,
    audit_mark,
    bind,
    fresh,
    live,
    messages,
    register_guardian,
    req,
)

# ---------------------------------------------------------------------------------------------
# R10 deduction order


def test_for_a_minor_a_holder_sets_the_order(demo):  # R10, R20
    ma, guli, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    by_ma, by_guli = live(ma, xiaoyan), live(guli, xiaoyan)
    assert (by_ma.deduction_position, by_guli.deduction_position) == (1, 2)
    mark = audit_mark()

    services.deduction_order_set(
        member=xiaoyan, ordered=[by_guli, by_ma], actor=guli.user, channel=ONLINE, at=NOW
    )
    assert [a.holder.name for a in selectors.deduction_order_for(member=xiaoyan)] == [
        "古丽娜",
        "马志强",
    ]
    entry = AuditEntry.objects.get(id__gt=mark)
    assert (entry.action, entry.actor, entry.person) == (
        "member.deduction_order",
        guli.user,
        xiaoyan,
    )
    assert entry.before == {str(by_guli.public_id): 2, str(by_ma.public_id): 1}
    assert entry.after == {str(by_guli.public_id): 1, str(by_ma.public_id): 2}


def test_an_adult_member_sets_their_own_order_and_a_holder_cannot(demo):  # R10
    ma, guli, jun = demo["马志强"], demo["古丽娜"], demo["马俊"]
    bind(ma, req(jun))
    bind(guli, req(jun), at=NOW + SECOND)
    user = citizen_activate(
        id_number=jun.id_number, name=jun.name, phone=jun.phone, password=CITIZEN_PASSWORD
    )
    jun = fresh(jun)
    assert jun.user == user
    answer(live(ma, jun), jun, at=NOW + DAY)
    answer(live(guli, jun), jun, at=NOW + DAY)

    ordered = [live(guli, jun), live(ma, jun)]
    with pytest.raises(ValidationError) as exc:  # 18 years old: not the parents' choice
        services.deduction_order_set(
            member=jun, ordered=ordered, actor=ma.user, channel=ONLINE, at=NOW + DAY
        )
    assert exc.value.messages == messages(family_errors.ORDER_NOT_ALLOWED)
    services.deduction_order_set(
        member=jun, ordered=ordered, actor=jun.user, channel=ONLINE, at=NOW + DAY
    )
    assert [a.holder.name for a in selectors.deduction_order_for(member=jun)] == [
        "古丽娜",
        "马志强",
    ]


def test_a_guardian_sets_the_order_for_an_incapacitated_adult(demo, staff):  # R10, R22
    ma, guli, jun = demo["马志强"], demo["古丽娜"], demo["马俊"]
    citizen_activate(
        id_number=jun.id_number, name=jun.name, phone=jun.phone, password=CITIZEN_PASSWORD
    )
    jun = fresh(jun)
    register_guardian(guli, jun, staff, basis=Guardianship.Basis.COURT)
    bind(ma, req(jun))
    bind(guli, req(jun), at=NOW + SECOND)
    answer(live(ma, jun), guli, at=NOW + DAY)
    answer(live(guli, jun), guli, at=NOW + DAY)
    ordered = [live(guli, jun), live(ma, jun)]
    with pytest.raises(ValidationError) as exc:
        services.deduction_order_set(
            member=jun, ordered=ordered, actor=jun.user, channel=ONLINE, at=NOW + DAY
        )
    assert exc.value.messages == messages(family_errors.ORDER_NOT_ALLOWED)
    services.deduction_order_set(
        member=jun, ordered=ordered, actor=guli.user, channel=ONLINE, at=NOW + DAY
    )
    assert live(guli, jun).deduction_position == 1


def test_a_stranger_cannot_set_the_order(demo):  # R10
    xiaoyan = demo["马小燕"]
    ordered = selectors.deduction_order_for(member=xiaoyan)
    for stranger in ("张伟", "王建国"):
        with pytest.raises(ValidationError) as exc:
            services.deduction_order_set(
                member=xiaoyan,
                ordered=ordered,
                actor=demo[stranger].user,
                channel=ONLINE,
                at=NOW,
            )
        assert exc.value.messages == messages(family_errors.ORDER_NOT_ALLOWED)


def test_the_order_must_list_every_live_authorization_once(demo):  # R10
    ma, guli, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    by_ma, by_guli = live(ma, xiaoyan), live(guli, xiaoyan)
    stranger = live(demo["王建国"], demo["王小明"])
    for ordered in ([by_ma], [by_ma, by_ma], [by_ma, by_guli, stranger], [by_ma, stranger]):
        with pytest.raises(ValidationError) as exc:
            services.deduction_order_set(
                member=xiaoyan, ordered=ordered, actor=ma.user, channel=ONLINE, at=NOW
            )
        assert exc.value.messages == messages(family_errors.ORDER_MISMATCH)
    assert (live(ma, xiaoyan).deduction_position, live(guli, xiaoyan).deduction_position) == (
        1,
        2,
    )


def test_moving_a_holder_up_or_down(demo):  # R10
    ma, guli, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]

    def order():
        return [a.holder.name for a in selectors.deduction_order_for(member=xiaoyan)]

    services.deduction_order_move(
        authorization=live(guli, xiaoyan), direction=-1, actor=ma.user, channel=ONLINE, at=NOW
    )
    assert order() == ["古丽娜", "马志强"]
    services.deduction_order_move(
        authorization=live(guli, xiaoyan), direction=-1, actor=ma.user, channel=ONLINE, at=NOW
    )
    assert order() == ["古丽娜", "马志强"]  # already first
    services.deduction_order_move(
        authorization=live(guli, xiaoyan), direction=+1, actor=ma.user, channel=ONLINE, at=NOW
    )
    assert order() == ["马志强", "古丽娜"]
    assert AuditEntry.objects.filter(action="member.deduction_order").count() == 1 + 3  # + seed


def test_an_ended_authorization_gives_up_its_position(demo):  # R10
    ma, guli, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    services.authorization_revoke(
        authorization=live(ma, xiaoyan), actor=ma.user, channel=ONLINE, at=NOW
    )
    assert Authorization.objects.get(holder=ma, member=xiaoyan).deduction_position is None
    services.deduction_order_set(
        member=xiaoyan, ordered=[live(guli, xiaoyan)], actor=guli.user, channel=ONLINE, at=NOW
    )
    assert live(guli, xiaoyan).deduction_position == 1


# ---------------------------------------------------------------------------------------------
# R21 region-policy settings


def test_the_holder_sets_and_clears_a_per_member_payment_cap(demo):  # R21, R20
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    auth = live(ma, xiaoyan)
    mark = audit_mark()
    services.authorization_cap_set(
        authorization=auth, cap=Decimal("300.00"), actor=ma.user, channel=ONLINE
    )
    assert live(ma, xiaoyan).payment_cap == Decimal("300.00")
    entry = AuditEntry.objects.get(id__gt=mark)
    assert (entry.action, entry.before["payment_cap"], entry.after["payment_cap"]) == (
        "authorization.cap",
        None,
        "300.00",
    )
    services.authorization_cap_set(authorization=auth, cap=None, actor=ma.user, channel=ONLINE)
    assert live(ma, xiaoyan).payment_cap is None


@pytest.mark.parametrize(
    "cap",
    ["1.005", "0", "0.00", "-5", "NaN", "Infinity", "1000000000000"],
)
def test_an_invalid_payment_cap_is_refused(demo, cap):  # R21
    ma, xiaoyan = demo["马志强"], demo["马小燕"]
    with pytest.raises(ValidationError) as exc:
        services.authorization_cap_set(
            authorization=live(ma, xiaoyan), cap=Decimal(cap), actor=ma.user, channel=ONLINE
        )
    assert exc.value.messages == messages(family_errors.CAP_INVALID)
    assert live(ma, xiaoyan).payment_cap is None


def test_only_the_holder_sets_a_cap_on_a_live_authorization(demo):  # R21
    ma, guli, xiaoyan = demo["马志强"], demo["古丽娜"], demo["马小燕"]
    with pytest.raises(ValidationError) as exc:
        services.authorization_cap_set(
            authorization=live(ma, xiaoyan), cap=Decimal("10"), actor=guli.user, channel=ONLINE
        )
    assert exc.value.messages == messages(family_errors.NOT_THE_HOLDER)
    auth = live(ma, xiaoyan)
    services.authorization_revoke(authorization=auth, actor=ma.user, channel=ONLINE, at=NOW)
    with pytest.raises(ValidationError) as exc:
        services.authorization_cap_set(
            authorization=auth, cap=Decimal("10"), actor=ma.user, channel=ONLINE
        )
    assert exc.value.messages == messages(family_errors.NOT_LIVE)
