"""Counter actions (issue 6): revoke, end a relationship, the deduction order, an insured-status
change (R14) and a premium on behalf at the counter, end to end through the views on
PostgreSQL with the demo cast. Each writes audit rows with channel counter, the clerk and the
reason (R20); bad input is refused with the exact message and changes nothing; another region's
object is a 404; a role without the permission, and a citizen, get 403."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import AuditEntry, InsuredPerson, Notification
from accounts.staff import ADMINISTRATOR
from family import errors as family_errors
from family import services
from family.forms.counter_actions import (
    END_REASON_REQUIRED,
    REASON_REQUIRED,
    STATUS_INVALID,
)
from family.models import Authorization, Relationship
from family.views.counter import RELATIONSHIP_ENDED, REVOKED
from family.views.member import ORDER_MOVED, ORDER_ROW_GONE
from payments.forms.counter import COUNTER_COMMITMENT_UNCHECKED
from payments.models import PremiumPayment
from payments.selectors import balance_of
from payments.selectors.premium import BENEFIT_OVER
from payments.views.staff import PREMIUM_PAID, PREMIUM_REPLAYED
from tests.factories import StaffUserFactory

COUNTER = AuditEntry.Channel.COUNTER
A = Authorization.Status
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Inside 659004's 2027 collection period (2026-08-26 – 2026-12-20): an on-time payment.
PREMIUM_DAY = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def _html(response) -> str:
    return response.content.decode()


def _mark() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _since(mark: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=mark).order_by("id"))


def _live(holder, member) -> Authorization:
    return Authorization.objects.get(holder=holder, member=member, status__in=A.values[:3])


def _message(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.fixture
def administrator(demo):
    """A non-superuser in the 管理员 group with every region: reads, no counter work."""
    user = StaffUserFactory(username="ref_admin")
    user.save()  # the factory sets the password without saving it
    user.groups.set([Group.objects.get(name=ADMINISTRATOR)])
    user.regions.set(demo.staff["js_clerk"].regions.all())
    return user


# ---------------------------------------------------------------------------------------------
# revoke (R15)


def test_the_clerk_revokes_a_member_with_a_reason_and_the_audit_says_counter(client, demo):
    wang, desheng = demo["王建国"], demo["王德胜"]
    item = _live(wang, desheng)
    url = reverse("staff:authorization-revoke", args=[item.public_id])
    clerk = demo.staff["js_clerk"]
    client.force_login(clerk)
    page = _html(client.get(url))
    assert "王德胜" in page and desheng.masked_id_number in page
    mark = _mark()
    response = client.post(url, {"reason": "主账户人本人到窗口申请"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("staff:person", args=[wang.public_id])
    assert str(REVOKED) % {"member": "王德胜", "holder": "王建国"} in _message(response)
    item.refresh_from_db()
    assert item.status == A.REVOKED
    assert item.end_note == "主账户人本人到窗口申请"
    [entry] = [e for e in _since(mark) if e.action == "authorization.revoke"]
    assert (entry.channel, entry.actor_id) == (COUNTER, clerk.pk)
    assert entry.after["end_note"] == "主账户人本人到窗口申请"
    # 王小明 is still bound: the relationship stays
    assert wang.relationships_held.get().status == Relationship.Status.ACTIVE


def test_a_revoke_without_a_reason_is_refused_and_changes_nothing(client, demo):
    item = _live(demo["王建国"], demo["王德胜"])
    client.force_login(demo.staff["js_clerk"])
    mark = _mark()
    response = client.post(reverse("staff:authorization-revoke", args=[item.public_id]), {})
    assert response.status_code == 200
    assert str(REASON_REQUIRED) in _html(response)
    item.refresh_from_db()
    assert item.status == A.ACTIVE
    assert _since(mark) == []


def test_revoking_an_ended_authorization_says_so(client, demo):
    item = _live(demo["王建国"], demo["王德胜"])
    clerk = demo.staff["js_clerk"]
    services.authorization_revoke(authorization=item, actor=clerk, channel=COUNTER, reason="x")
    client.force_login(clerk)
    url = reverse("staff:authorization-revoke", args=[item.public_id])
    response = client.post(url, {"reason": "再次解除"})
    assert str(family_errors.NOT_LIVE) in _html(response)


# ---------------------------------------------------------------------------------------------
# end a relationship (R15)


def test_the_clerk_ends_a_relationship_every_member_is_revoked_and_the_note_is_audited(
    client, demo
):
    wang = demo["王建国"]
    relationship = wang.relationships_held.get()
    url = reverse("staff:relationship-end", args=[relationship.public_id])
    clerk = demo.staff["js_clerk"]
    client.force_login(clerk)
    page = _html(client.get(url))
    assert "王小明" in page and "王德胜" in page
    mark = _mark()
    response = client.post(
        url, {"end_reason": "staff", "note": "户籍迁出，经核查终止"}, follow=True
    )
    assert str(RELATIONSHIP_ENDED) % {"holder": "王建国"} in _message(response)
    relationship.refresh_from_db()
    assert relationship.status == Relationship.Status.ENDED
    assert relationship.end_reason == Relationship.EndReason.STAFF
    assert set(relationship.authorizations.values_list("status", flat=True)) == {A.REVOKED}
    entries = _since(mark)
    assert {e.channel for e in entries} == {COUNTER}
    assert {e.actor_id for e in entries} == {clerk.pk}
    end = next(e for e in entries if e.action == "relationship.end")
    assert end.after["end_reason"] == "staff"
    assert end.after["note"] == "户籍迁出，经核查终止"
    assert set(relationship.authorizations.values_list("end_note", flat=True)) == {
        "户籍迁出，经核查终止"
    }
    # both sides told (R15)
    told = set(
        Notification.objects.filter(kind=Notification.Kind.ENDED).values_list(
            "recipient__name", flat=True
        )
    )
    assert {"王建国", "王小明", "王德胜"} <= told


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"end_reason": "staff"}, REASON_REQUIRED),
        ({"note": "说明"}, END_REASON_REQUIRED),
        ({"end_reason": "no_members", "note": "说明"}, END_REASON_REQUIRED),
    ],
)
def test_ending_without_a_reason_is_refused_and_changes_nothing(client, demo, data, message):
    relationship = demo["王建国"].relationships_held.get()
    client.force_login(demo.staff["js_clerk"])
    mark = _mark()
    response = client.post(reverse("staff:relationship-end", args=[relationship.public_id]), data)
    assert str(message) in _html(response)
    relationship.refresh_from_db()
    assert relationship.status == Relationship.Status.ACTIVE
    assert _since(mark) == []


# ---------------------------------------------------------------------------------------------
# deduction order (R10)


def test_the_clerk_moves_a_holder_up_in_the_members_order(client, demo):
    xiaoyan, ma, gulina = (demo[n] for n in ("马小燕", "马志强", "古丽娜"))
    url = reverse("staff:member-order", args=[xiaoyan.public_id])
    clerk = demo.staff["xj_clerk"]
    client.force_login(clerk)
    page = _html(client.get(url))
    assert page.index("马志强") < page.index("古丽娜")
    mark = _mark()
    second = _live(gulina, xiaoyan)
    response = client.post(
        url, {"authorization": str(second.public_id), "direction": "up"}, follow=True
    )
    assert str(ORDER_MOVED) % {"holder": "古丽娜", "position": 1} in _message(response)
    assert _live(gulina, xiaoyan).deduction_position == 1
    assert _live(ma, xiaoyan).deduction_position == 2
    [entry] = _since(mark)
    assert (entry.action, entry.channel, entry.actor_id) == (
        "member.deduction_order",
        COUNTER,
        clerk.pk,
    )


def test_an_order_move_of_someone_elses_authorization_changes_nothing(client, demo):
    xiaoyan = demo["马小燕"]
    other = _live(demo["王建国"], demo["王小明"])
    client.force_login(demo.staff["xj_clerk"])
    mark = _mark()
    response = client.post(
        reverse("staff:member-order", args=[xiaoyan.public_id]),
        {"authorization": str(other.public_id), "direction": "up"},
    )
    assert str(ORDER_ROW_GONE) in _html(response)
    assert _since(mark) == []
    assert _live(demo["马志强"], xiaoyan).deduction_position == 1


# ---------------------------------------------------------------------------------------------
# insured status (R14)


def test_transferring_out_a_holder_ends_his_relationship_at_once_and_tells_both_sides(client, demo):
    wang = demo["王建国"]
    url = reverse("staff:person-status", args=[wang.public_id])
    clerk = demo.staff["js_clerk"]
    client.force_login(clerk)
    page = _html(client.get(url))
    assert "王小明" in page and "王德胜" in page  # what will end, shown before confirming
    mark = _mark()
    response = client.post(
        url, {"status": "transferred", "reason": "转往上海市，转移接续单号 001"}, follow=True
    )
    assert "已转出" in _message(response)
    wang.refresh_from_db()
    assert wang.status == InsuredPerson.Status.TRANSFERRED
    assert set(wang.authorizations_given.values_list("status", flat=True)) == {A.TERMINATED}
    relationship = wang.relationships_held.get()
    assert relationship.status == Relationship.Status.ENDED
    assert relationship.end_reason == Relationship.EndReason.HOLDER_STATUS
    entries = _since(mark)
    assert {e.channel for e in entries} == {COUNTER}
    change = next(e for e in entries if e.action == "person.status_change")
    assert change.actor_id == clerk.pk
    assert change.before["reason"] == "转往上海市，转移接续单号 001"
    assert (change.before["status"], change.after["status"]) == ("normal", "transferred")
    assert [e.action for e in entries].count("authorization.terminate") == 2
    told = set(
        Notification.objects.filter(kind=Notification.Kind.ENDED).values_list(
            "recipient__name", flat=True
        )
    )
    assert {"王建国", "王小明", "王德胜"} <= told


def test_terminating_a_member_ends_both_holders_authorizations(client, demo):
    xiaoyan = demo["马小燕"]
    client.force_login(demo.staff["xj_clerk"])
    client.post(
        reverse("staff:person-status", args=[xiaoyan.public_id]),
        {"status": "terminated", "reason": "死亡，死亡证明编号 X1"},
    )
    assert set(xiaoyan.authorizations_received.values_list("status", flat=True)) == {A.TERMINATED}
    # each holder's relationship had her only: it ends too
    for name in ("马志强", "古丽娜"):
        assert demo[name].relationships_held.get().status == Relationship.Status.ENDED


def test_suspending_ends_nothing_and_restoring_sets_normal(client, demo):
    wang = demo["王建国"]
    url = reverse("staff:person-status", args=[wang.public_id])
    client.force_login(demo.staff["js_clerk"])
    client.post(url, {"status": "suspended", "reason": "欠费暂停"})
    wang.refresh_from_db()
    assert wang.status == InsuredPerson.Status.SUSPENDED
    assert wang.authorizations_given.live().count() == 2
    client.post(url, {"status": "normal", "reason": "补缴后恢复"})
    wang.refresh_from_db()
    assert wang.status == InsuredPerson.Status.NORMAL


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "dead", "reason": "原因"}, STATUS_INVALID),
        ({"reason": "原因"}, STATUS_INVALID),
        ({"status": "transferred", "reason": ""}, REASON_REQUIRED),
        ({"status": "normal", "reason": "原因"}, family_errors.STATUS_UNCHANGED),
    ],
)
def test_a_bad_status_change_is_refused_and_changes_nothing(client, demo, data, message):
    wang = demo["王建国"]
    client.force_login(demo.staff["js_clerk"])
    mark = _mark()
    response = client.post(reverse("staff:person-status", args=[wang.public_id]), data)
    assert response.status_code == 200
    assert str(message) in _html(response)
    wang.refresh_from_db()
    assert wang.status == InsuredPerson.Status.NORMAL
    assert wang.authorizations_given.live().count() == 2
    assert _since(mark) == []


# ---------------------------------------------------------------------------------------------
# premium on behalf at the counter (R16, R18)


def _premium_check_page(client, member, holder, year, pay_type="personal"):
    url = reverse("staff:premium-counter", args=[member.public_id])
    query = {"holder": str(holder.public_id), "year": year, "pay_type": pay_type}
    return url, client.get(url, query)


def _confirm_data(page: str) -> dict:
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert set(data) >= {"key", "holder", "year", "pay_type"}
    return data


def test_a_premium_at_the_counter_is_paid_once_on_a_double_submit(client, demo, time_machine):
    time_machine.move_to(PREMIUM_DAY, tick=False)
    xiaoyan, ma = demo["马小燕"], demo["马志强"]
    clerk = demo.staff["xj_clerk"]
    client.force_login(clerk)
    url, response = _premium_check_page(client, xiaoyan, ma, 2027)
    page = _html(response)
    assert "代缴信息校验：全部通过" in page
    assert "代缴承诺书" in page  # printed for the holder's wet signature (R18)
    data = {**_confirm_data(page), "commitment": "on"}
    mark = _mark()
    first = client.post(url, data, follow=True)
    assert str(PREMIUM_PAID) % {"member": "马小燕", "year": 2027, "amount": "400.00"} in _message(
        first
    )
    assert first.redirect_chain[-1][0] == reverse("staff:person", args=[xiaoyan.public_id])
    second = client.post(url, data, follow=True)  # the same key: a double submit
    assert str(PREMIUM_REPLAYED) in _message(second)
    payment = PremiumPayment.objects.get(member=xiaoyan, year=2027)
    assert payment.paid_by_id == clerk.pk
    assert balance_of(ma) == 800
    [entry] = [e for e in _since(mark) if e.action == "premium.pay"]
    assert (entry.channel, entry.actor_id) == (COUNTER, clerk.pk)


def test_a_premium_without_the_signed_commitment_is_not_paid(client, demo, time_machine):
    time_machine.move_to(PREMIUM_DAY, tick=False)
    xiaoyan, ma = demo["马小燕"], demo["马志强"]
    client.force_login(demo.staff["xj_clerk"])
    url, response = _premium_check_page(client, xiaoyan, ma, 2027)
    response = client.post(url, _confirm_data(_html(response)))
    assert str(COUNTER_COMMITMENT_UNCHECKED) in _html(response)
    assert not PremiumPayment.objects.exists()
    assert balance_of(ma) == 1200


def test_a_failed_check_shows_why_and_offers_no_confirm(client, demo, time_machine):
    time_machine.move_to(PREMIUM_DAY, tick=False)
    xiaoyan, ma = demo["马小燕"], demo["马志强"]
    client.force_login(demo.staff["xj_clerk"])
    _url, response = _premium_check_page(client, xiaoyan, ma, 2025)
    page = _html(response)
    assert str(BENEFIT_OVER) % {"year": 2025, "benefit_end": "2025-12-31"} in page
    assert 'name="key"' not in page


def test_a_forged_confirm_for_another_holder_pays_nothing(client, demo, time_machine):
    time_machine.move_to(PREMIUM_DAY, tick=False)
    xiaoyan, ma = demo["马小燕"], demo["马志强"]
    client.force_login(demo.staff["xj_clerk"])
    url, response = _premium_check_page(client, xiaoyan, ma, 2027)
    data = {**_confirm_data(_html(response)), "commitment": "on"}
    data["holder"] = str(demo["王建国"].public_id)
    client.post(url, data)
    assert not PremiumPayment.objects.exists()


# ---------------------------------------------------------------------------------------------
# scope and permissions


def _urls(demo) -> dict[str, str]:
    wang, xiaoyan = demo["王建国"], demo["马小燕"]
    return {
        "revoke": reverse(
            "staff:authorization-revoke", args=[_live(wang, demo["王小明"]).public_id]
        ),
        "end": reverse("staff:relationship-end", args=[wang.relationships_held.get().public_id]),
        "status": reverse("staff:person-status", args=[wang.public_id]),
        "order": reverse("staff:member-order", args=[xiaoyan.public_id]),
        "premium": reverse("staff:premium-counter", args=[xiaoyan.public_id]),
    }


@pytest.mark.parametrize("name", ["revoke", "end", "status"])
def test_jiangsu_objects_are_a_404_for_the_xinjiang_clerk(client, demo, name):
    client.force_login(demo.staff["xj_clerk"])
    url = _urls(demo)[name]
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "x", "note": "x", "end_reason": "staff"}).status_code == 404


@pytest.mark.parametrize("name", ["order", "premium"])
def test_xinjiang_members_are_a_404_for_the_jiangsu_clerk(client, demo, name):
    client.force_login(demo.staff["js_clerk"])
    url = _urls(demo)[name]
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404


@pytest.mark.parametrize("name", ["revoke", "end", "status", "order", "premium"])
def test_the_administrator_role_has_no_counter_permissions(client, demo, administrator, name):
    client.force_login(administrator)
    assert client.get(_urls(demo)[name]).status_code == 403
    assert client.post(_urls(demo)[name], {}).status_code == 403


@pytest.mark.parametrize("name", ["revoke", "end", "status", "order", "premium"])
def test_a_citizen_gets_403(client, demo, name):
    client.force_login(demo["王建国"].user)
    assert client.get(_urls(demo)[name]).status_code == 403


def test_the_supervisor_may_do_counter_work(client, demo):
    client.force_login(demo.staff["js_super"])
    assert client.get(_urls(demo)["revoke"]).status_code == 200
    assert client.get(_urls(demo)["status"]).status_code == 200


def test_counter_pages_run_a_bounded_number_of_queries(client, demo, django_assert_max_num_queries):
    client.force_login(demo.staff["xj_clerk"])
    urls = _urls(demo)
    for name in ("order", "premium"):
        client.get(urls[name])
        with django_assert_max_num_queries(12):
            assert client.get(urls[name]).status_code == 200
    client.force_login(demo.staff["js_clerk"])
    for name in ("revoke", "end", "status"):
        client.get(urls[name])
        with django_assert_max_num_queries(12):
            assert client.get(urls[name]).status_code == 200
