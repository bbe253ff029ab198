"""Scheduled lifecycle (issue 5): expiry, start of scheduled windows, consent lapse (R8), the R14
status reconciliation and expiry reminders; each pass run once, twice and from several threads at
once, on real PostgreSQL. Tasks run eagerly (CELERY_TASK_ALWAYS_EAGER in the test settings)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core import mail
from django.utils import timezone, translation

from accounts import notices
from accounts.models import AuditEntry, InsuredPerson, Notification
from accounts.services import notification_emails_send
from family import selectors, services, tasks
from family.demo import desheng_end
from family.models import Authorization, Relation, Relationship
from tests.clock import NOW, SHANGHAI
from tests.factories import InsuredPersonFactory, make_id_number
from tests.family.builders import (
    DAY,
    SECOND,
    A,
    actions_since,
    answer,
    audit_mark,
    bind,
    live,
    req,
)
from tests.threads import run_together

DESHENG_END = desheng_end()  # as seed_family computes it today

Kind = Notification.Kind
UTC = dt.UTC


def told(kind=None) -> Counter:
    """(recipient name, kind) -> how many notifications."""
    rows = Notification.objects.select_related("recipient")
    if kind is not None:
        rows = rows.filter(kind=kind)
    return Counter((n.recipient.name, n.kind) for n in rows)


def desheng(demo):
    return live(demo["王建国"], demo["王德胜"])


# ---------------------------------------------------------------------------------------------
# the end instant, in Asia/Shanghai, stored in UTC


def test_the_demo_window_ends_at_235959_shanghai_stored_as_utc(demo):
    auth = desheng(demo)
    year = DESHENG_END.year  # 2026 in the cast; a year later once that is too close
    assert auth.window_end == dt.datetime(year, 12, 31, 15, 59, 59, tzinfo=UTC)
    assert timezone.localtime(auth.window_end).strftime("%Y-%m-%d %H:%M:%S") == (
        f"{year}-12-31 23:59:59"
    )


@pytest.mark.parametrize(
    ("at", "usable"),
    [
        (DESHENG_END - SECOND, True),  # 23:59:58 local
        (DESHENG_END, True),  # the end instant itself is inside the window
        (DESHENG_END + SECOND, False),  # 00:00:00 local on 2027-01-01 = 16:00:00 UTC on 12-31
        # Still 2026-12-31 in UTC but already the next day in Shanghai: refused, whatever the
        # UTC date says.
        (dt.datetime(DESHENG_END.year, 12, 31, 23, 59, 59, tzinfo=UTC), False),
    ],
)
def test_usable_one_second_before_the_end_and_refused_one_second_after(demo, at, usable):
    auth = desheng(demo)
    usable_now = selectors.authorizations_usable_for(member=demo["王德胜"], at=at)
    assert (auth in usable_now) is usable
    assert fresh_auth(auth).status == A.ACTIVE  # nothing ran: use time alone decides


def fresh_auth(auth):
    return type(auth).objects.get(pk=auth.pk)


def test_expiry_changes_nothing_at_the_end_instant_and_expires_one_second_after(demo):
    auth = desheng(demo)
    mark = audit_mark()
    assert services.lifecycle_run(at=DESHENG_END) == {"expired": 0, "started": 0}
    assert fresh_auth(auth).status == A.ACTIVE
    assert actions_since(mark) == []

    assert services.lifecycle_run(at=DESHENG_END + SECOND) == {"expired": 1, "started": 0}
    auth = fresh_auth(auth)
    assert (auth.status, auth.ended_at, auth.deduction_position) == (
        A.EXPIRED,
        DESHENG_END + SECOND,
        None,
    )
    entry = AuditEntry.objects.get(action="authorization.expire")
    assert (entry.channel, entry.actor, entry.person.name) == (
        AuditEntry.Channel.SYSTEM,
        None,
        "王德胜",
    )
    assert (entry.object_id, entry.before["status"], entry.after["status"]) == (
        str(auth.public_id),
        "active",
        "expired",
    )
    # 王小明 is still bound: the relationship stands.
    assert Relationship.objects.get(holder=demo["王建国"]).status == "active"
    assert told(Kind.EXPIRED) == {("王建国", Kind.EXPIRED): 1, ("王德胜", Kind.EXPIRED): 1}


def test_a_window_ending_at_local_midnight_is_compared_as_an_instant(demo_unbound):
    """00:00:00 Shanghai is 16:00:00 UTC the day before; no date arithmetic in either zone."""
    end = dt.datetime(2026, 12, 1, 0, 0, 0, tzinfo=SHANGHAI)
    bind(demo_unbound["王建国"], req(demo_unbound["王小明"], end=end))
    auth = live(demo_unbound["王建国"], demo_unbound["王小明"])
    assert auth.window_end == dt.datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC)
    assert services.authorizations_expire(at=end) == 0
    assert services.authorizations_expire(at=end + SECOND) == 1


@pytest.mark.parametrize(
    ("task", "moment", "result"),
    [
        (tasks.run_lifecycle, DESHENG_END, {"expired": 0, "started": 0}),
        (tasks.run_lifecycle, DESHENG_END + SECOND, {"expired": 1, "started": 0}),
        (tasks.lapse_consents, DESHENG_END + SECOND, 0),
        (tasks.reconcile_statuses, DESHENG_END + SECOND, 0),
        (tasks.send_expiry_reminders, DESHENG_END - 7 * DAY, 1),
    ],
)
def test_each_task_runs_eagerly_on_the_real_clock(demo, time_machine, task, moment, result):
    time_machine.move_to(moment, tick=False)
    assert task.delay().get() == result
    assert task.delay().get() in (result, 0, {"expired": 0, "started": 0})  # a rerun: no-op
    expected = A.EXPIRED if result == {"expired": 1, "started": 0} else A.ACTIVE
    assert Authorization.objects.get(member=demo["王德胜"]).status == expected


def test_tasks_are_late_acknowledged_and_expire():
    for task in (
        tasks.run_lifecycle,
        tasks.lapse_consents,
        tasks.reconcile_statuses,
        tasks.send_expiry_reminders,
    ):
        assert task.acks_late is True
        assert 0 < task.expires <= 3600


# ---------------------------------------------------------------------------------------------
# twice, and at once


def test_expiry_run_twice_changes_and_tells_each_row_once(demo):
    at = DESHENG_END + SECOND
    assert services.authorizations_expire(at=at) == 1
    mark = audit_mark()
    before = told()
    assert services.authorizations_expire(at=at) == 0
    assert services.authorizations_expire(at=at + DAY) == 0
    assert actions_since(mark) == []
    assert told() == before


def many_children(count: int, *, region="659004", birth=dt.date(2016, 5, 1)):
    from accounts.models import RegionPolicy

    policy = RegionPolicy.objects.get(code=region)
    return [
        InsuredPersonFactory(
            name=f"孩子{i:02d}",
            region=policy,
            id_number=make_id_number(region, birth, 600 + 2 * i),
            scheme=InsuredPerson.Scheme.RESIDENT,
        )
        for i in range(count)
    ]


@pytest.mark.django_db(transaction=True)
def test_three_expiry_runs_at_once_expire_each_row_once(demo_unbound):
    """Three workers at once, small batches: SKIP LOCKED gives them disjoint rows; together they
    expire all 40, each audited and told once, and the emptied relationship ends once."""
    holder = demo_unbound["马志强"]
    children = many_children(40)
    end = NOW + DAY
    bind(holder, *(req(child, end=end) for child in children))
    at = end + SECOND

    outcomes = run_together(*(lambda: services.authorizations_expire(at=at, batch_size=5),) * 3)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert sum(result for _, result in outcomes) == 40
    assert Authorization.objects.filter(status=A.EXPIRED).count() == 40
    expire_audits = AuditEntry.objects.filter(action="authorization.expire")
    assert expire_audits.count() == 40
    assert len(set(expire_audits.values_list("object_id", flat=True))) == 40
    assert Notification.objects.filter(kind=Kind.EXPIRED).count() == 80
    assert Notification.objects.filter(kind=Kind.EXPIRED, recipient=holder).count() == 40
    relationship = Relationship.objects.get(holder=holder)
    assert (relationship.status, relationship.end_reason) == ("ended", "no_members")
    assert AuditEntry.objects.filter(action="relationship.end").count() == 1


@pytest.mark.django_db(transaction=True)
def test_every_pass_run_twice_at_once_does_its_work_once(demo_unbound):
    """Lapse, start, reminders and the R14 pass, each started twice at the same instant."""
    holder = demo_unbound["马志强"]
    children = many_children(12, birth=dt.date(2016, 5, 1))
    teens = many_children(6, birth=dt.date(2008, 1, 1))  # over 16: consent needed
    start = NOW + DAY
    bind(holder, *(req(c, start=start, end=start + 3 * DAY) for c in children))
    bind(holder, *(req(t) for t in teens))

    def twice(call):
        outcomes = run_together(call, call)
        assert all(kind == "ok" for kind, _ in outcomes), outcomes
        return sorted(result for _, result in outcomes)

    assert sum(twice(lambda: services.consents_lapse(at=NOW + 8 * DAY, batch_size=2))) == 6
    assert sum(twice(lambda: services.authorizations_activate(at=start, batch_size=3))) == 12
    # Reminders change no state: both runs read all 12 windows …
    assert twice(lambda: services.expiry_reminders_send(at=start)) == [12, 12]
    # … yet each side of each is told once.
    assert Notification.objects.filter(kind=Kind.EXPIRING).count() == 12 * 2
    InsuredPerson.objects.filter(pk__in=[c.pk for c in children[:4]]).update(
        status=InsuredPerson.Status.TERMINATED
    )
    assert sum(twice(lambda: services.statuses_reconcile(at=start + SECOND, batch_size=1))) == 4

    counts = Counter(AuditEntry.objects.values_list("action", flat=True))
    assert counts["authorization.lapse"] == 6
    assert counts["authorization.start"] == 12
    assert counts["authorization.terminate"] == 4
    assert Notification.objects.filter(kind=Kind.STARTED).count() == 24
    assert Notification.objects.filter(kind=Kind.ENDED).count() == 2 * 6 + 2 * 4


# ---------------------------------------------------------------------------------------------
# start of a scheduled window


def test_a_scheduled_window_becomes_active_at_its_start_and_both_are_told(demo_unbound):
    wang, xiaoming = demo_unbound["王建国"], demo_unbound["王小明"]
    start = NOW + DAY
    bind(wang, req(xiaoming, start=start))
    auth = live(wang, xiaoming)
    assert auth.status == A.SCHEDULED
    assert told(Kind.STARTED) == {}  # nothing started yet

    assert services.authorizations_activate(at=start - SECOND) == 0
    mark = audit_mark()
    assert services.lifecycle_run(at=start) == {"expired": 0, "started": 1}
    assert fresh_auth(auth).status == A.ACTIVE
    assert actions_since(mark) == ["authorization.start"]
    assert told(Kind.STARTED) == {("王建国", Kind.STARTED): 1, ("王小明", Kind.STARTED): 1}
    assert services.lifecycle_run(at=start + DAY) == {"expired": 0, "started": 0}


def test_a_scheduled_window_already_over_expires_without_starting(demo_unbound):
    wang, xiaoming = demo_unbound["王建国"], demo_unbound["王小明"]
    start = NOW + DAY
    bind(wang, req(xiaoming, start=start, end=start + DAY))
    assert services.lifecycle_run(at=start + 2 * DAY) == {"expired": 1, "started": 0}
    assert told(Kind.STARTED) == {}
    assert set(told(Kind.EXPIRED)) == {("王建国", Kind.EXPIRED), ("王小明", Kind.EXPIRED)}


def test_a_pending_consent_does_not_start_however_late_it_is(demo_unbound):  # R8
    wang, wangli = demo_unbound["王建国"], demo_unbound["王丽"]
    bind(wang, req(wangli, Relation.CHILD))
    assert services.authorizations_activate(at=NOW + 3 * DAY) == 0
    assert live(wang, wangli).status == A.PENDING_CONSENT


def test_consent_to_a_later_window_schedules_it(demo_unbound):  # R8
    wang, wangli = demo_unbound["王建国"], demo_unbound["王丽"]
    start = NOW + 3 * DAY
    bind(wang, req(wangli, start=start))
    answer(live(wang, wangli), wangli, at=NOW + DAY)
    assert live(wang, wangli).status == A.SCHEDULED
    assert services.authorizations_activate(at=start) == 1
    assert live(wang, wangli).status == A.ACTIVE


def test_a_window_change_moves_between_scheduled_and_active(demo):  # R6, R7
    wang, xiaoming = demo["王建国"], demo["王小明"]
    auth = live(wang, xiaoming)
    later = NOW + 10 * DAY
    services.authorization_window_change(
        authorization=auth,
        window_start=later,
        window_end=None,
        signature=services.Signature(name=wang.name),
        actor=wang.user,
        channel=AuditEntry.Channel.ONLINE,
        at=NOW,
    )
    assert live(wang, xiaoming).status == A.SCHEDULED


# ---------------------------------------------------------------------------------------------
# R8 consent lapse


def test_an_unanswered_request_lapses_after_the_policy_days_and_both_are_told(demo_unbound):
    wang, wangli = demo_unbound["王建国"], demo_unbound["王丽"]
    bind(wang, req(wangli))
    auth = live(wang, wangli)
    deadline = auth.consent_deadline
    assert deadline == NOW + 7 * DAY
    assert told(Kind.CONSENT_REQUESTED) == {("王丽", Kind.CONSENT_REQUESTED): 1}

    assert services.consents_lapse(at=deadline) == 0
    mark = audit_mark()
    assert services.consents_lapse(at=deadline + SECOND) == 1
    auth = fresh_auth(auth)
    assert auth.status == A.LAPSED
    # The relationship had no other member: it ends too (R5: the holder is free again).
    assert actions_since(mark) == ["authorization.lapse", "relationship.end"]
    assert Relationship.objects.get(holder=wang).end_reason == "no_members"
    assert told(Kind.ENDED) == {("王建国", Kind.ENDED): 1, ("王丽", Kind.ENDED): 1}
    note = Notification.objects.get(kind=Kind.ENDED, recipient=wang)
    with translation.override("zh-hans"):
        title, body = notices.render(note)
    assert "王*" in body and "确认已超期" in body
    assert services.consents_lapse(at=deadline + DAY) == 0


# ---------------------------------------------------------------------------------------------
# R14 reconciliation of statuses changed outside the portal


def test_a_member_terminated_by_a_bulk_import_is_ended_by_the_reconciliation(demo):
    wang, father = demo["王建国"], demo["王德胜"]
    # Changed outside the portal: no service ran, nothing was ended.
    InsuredPerson.objects.filter(pk=father.pk).update(status=InsuredPerson.Status.TERMINATED)
    assert desheng(demo).status == A.ACTIVE
    assert father not in [
        a.member for a in selectors.authorizations_usable_for(member=father, at=NOW)
    ]  # refused at use time meanwhile

    mark = audit_mark()
    assert tasks.reconcile_statuses.delay().get() == 1
    assert actions_since(mark) == ["authorization.terminate"]
    ended = Authorization.objects.get(member=father)
    assert (ended.status, ended.end_note) == (A.TERMINATED, "参保关系转出或终止")
    assert Relationship.objects.get(holder=wang).status == "active"  # 王小明 stays
    assert told(Kind.ENDED) == {("王建国", Kind.ENDED): 1, ("王德胜", Kind.ENDED): 1}
    assert services.statuses_reconcile() == 0


def test_a_holder_transferred_out_by_sql_loses_the_relationship_as_holder(demo):
    wang = demo["王建国"]
    InsuredPerson.objects.filter(pk=wang.pk).update(status=InsuredPerson.Status.TRANSFERRED)
    assert services.statuses_reconcile(at=NOW) == 2
    relationship = Relationship.objects.get(holder=wang)
    assert (relationship.status, relationship.end_reason) == ("ended", "holder_status")
    assert set(told(Kind.ENDED)) == {
        ("王建国", Kind.ENDED),
        ("王小明", Kind.ENDED),
        ("王德胜", Kind.ENDED),
    }
    assert told(Kind.ENDED)[("王建国", Kind.ENDED)] == 2  # one per authorization


def test_a_relationship_of_a_gone_holder_without_members_is_ended_too(demo_unbound):
    """Drift from outside the portal: the member row was ended by SQL, the relationship was not,
    then the holder was transferred out. The pass ends the relationship for the R14 reason."""
    wang = demo_unbound["王建国"]
    bind(wang, req(demo_unbound["王小明"]))
    Authorization.objects.filter(holder=wang).update(status=A.REVOKED, ended_at=NOW)
    InsuredPerson.objects.filter(pk=wang.pk).update(status=InsuredPerson.Status.TRANSFERRED)
    mark = audit_mark()
    assert services.statuses_reconcile(at=NOW) == 0  # no authorization left to end
    assert actions_since(mark) == ["relationship.end"]
    relationship = Relationship.objects.get(holder=wang)
    assert (relationship.status, relationship.end_reason) == ("ended", "holder_status")
    assert services.statuses_reconcile(at=NOW) == 0
    assert actions_since(mark) == ["relationship.end"]


def test_suspension_ends_nothing(demo):  # R14: only transfer/termination end
    InsuredPerson.objects.filter(pk=demo["王德胜"].pk).update(status=InsuredPerson.Status.SUSPENDED)
    assert services.statuses_reconcile(at=NOW) == 0
    assert desheng(demo).status == A.ACTIVE


def test_a_status_change_through_the_portal_tells_both_sides(demo):  # R14
    from tests.factories import StaffUserFactory

    services.person_status_change(
        person=demo["王德胜"],
        status=InsuredPerson.Status.TRANSFERRED,
        reason="转出至外省",
        actor=StaffUserFactory(),
        channel=AuditEntry.Channel.COUNTER,
        at=NOW,
    )
    assert told(Kind.ENDED) == {("王建国", Kind.ENDED): 1, ("王德胜", Kind.ENDED): 1}


# ---------------------------------------------------------------------------------------------
# reminders


def test_a_reminder_seven_days_before_the_end_once_and_again_after_a_window_change(demo):
    wang = demo["王建国"]
    assert services.expiry_reminders_send(at=DESHENG_END - 8 * DAY) == 0
    assert services.expiry_reminders_send(at=DESHENG_END - 7 * DAY) == 1
    assert services.expiry_reminders_send(at=DESHENG_END - 6 * DAY) == 1  # read again …
    assert told(Kind.EXPIRING) == {("王建国", Kind.EXPIRING): 1, ("王德胜", Kind.EXPIRING): 1}
    note = Notification.objects.get(kind=Kind.EXPIRING, recipient=wang)
    with translation.override("zh-hans"):
        assert f"{DESHENG_END.year}-12-31 23:59:59" in notices.render(note)[1]

    new_end = DESHENG_END - 2 * DAY
    services.authorization_window_change(
        authorization=desheng(demo),
        window_start=None,
        window_end=new_end,
        signature=services.Signature(name=wang.name),
        actor=wang.user,
        channel=AuditEntry.Channel.ONLINE,
        at=DESHENG_END - 6 * DAY,
    )
    services.expiry_reminders_send(at=DESHENG_END - 5 * DAY)
    assert told(Kind.EXPIRING) == {("王建国", Kind.EXPIRING): 2, ("王德胜", Kind.EXPIRING): 2}


# ---------------------------------------------------------------------------------------------
# notifications of the one-row services, and their mail


def test_binding_tells_the_member_or_both_sides(demo_unbound):
    wang = demo_unbound["王建国"]
    bind(wang, req(demo_unbound["王小明"]), req(demo_unbound["王丽"]))
    assert told() == {
        ("王建国", Kind.STARTED): 1,  # 王小明 starts at once (under 16)
        ("王小明", Kind.STARTED): 1,
        ("王丽", Kind.CONSENT_REQUESTED): 1,  # 王丽 must answer first (R8)
    }
    answer(live(wang, demo_unbound["王丽"]), demo_unbound["王丽"])
    assert told()[("王丽", Kind.STARTED)] == 1
    assert told()[("王建国", Kind.STARTED)] == 2


def test_revoke_and_leave_tell_both_sides(demo):  # R15
    wang, xiaoming, father = demo["王建国"], demo["王小明"], demo["王德胜"]
    Notification.objects.all().delete()
    services.authorization_revoke(
        authorization=live(wang, xiaoming),
        actor=wang.user,
        channel=AuditEntry.Channel.ONLINE,
        at=NOW,
    )
    services.authorization_leave(
        authorization=live(wang, father),
        actor=father.user,
        channel=AuditEntry.Channel.ONLINE,
        at=NOW,
    )
    assert told() == {
        ("王建国", Kind.ENDED): 2,
        ("王小明", Kind.ENDED): 1,
        ("王德胜", Kind.ENDED): 1,
    }
    with translation.override("zh-hans"):
        bodies = {
            notices.render(n)[1]
            for n in Notification.objects.filter(recipient=wang, kind=Kind.ENDED)
        }
    assert any("主账户人已解除" in b for b in bodies)
    assert any("成员已退出" in b for b in bodies)


def test_mail_goes_once_to_those_with_an_address(demo):
    wang = demo["王建国"]
    wang.user.email = "wjg@example.org"
    wang.user.save(update_fields=["email"])
    Notification.objects.update(email_status="no_address")  # the demo's earlier news aside
    services.authorizations_expire(at=DESHENG_END + SECOND)
    assert notification_emails_send() == 1  # 王建国 has an address; 王德胜 has none
    assert [m.to for m in mail.outbox] == [["wjg@example.org"]]
    assert "到期" in mail.outbox[0].subject
    assert "王*胜" in mail.outbox[0].body and "王德胜" not in mail.outbox[0].body
    statuses = dict(
        Notification.objects.filter(kind=Kind.EXPIRED).values_list(
            "recipient__name", "email_status"
        )
    )
    assert statuses == {"王建国": "sent", "王德胜": "no_address"}
    assert notification_emails_send() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_mail_sweeps_at_once_send_each_mail_once(demo_unbound):
    holder = demo_unbound["马志强"]
    holder.user.email = "mzq@example.org"
    holder.user.save(update_fields=["email"])
    mail.outbox = []
    children = many_children(30)
    bind(holder, *(req(child) for child in children))  # 30 "started" notices to the holder
    Notification.objects.filter(email_status="sent").update(email_status="pending")
    mail.outbox = []
    outcomes = run_together(
        lambda: notification_emails_send(batch_size=4),
        lambda: notification_emails_send(batch_size=4),
    )
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert sum(result for _, result in outcomes) == 30
    assert len(mail.outbox) == 30
    assert Notification.objects.filter(email_status="sent").count() == 30


def test_a_registered_guardian_is_asked_with_the_member(demo_unbound):  # R8, R22
    from family.models import Guardianship
    from tests.factories import StaffUserFactory

    wang, desheng, wangli = demo_unbound["王建国"], demo_unbound["王德胜"], demo_unbound["王丽"]
    services.guardianship_register(
        guardian=wangli,
        ward=desheng,
        basis=Guardianship.Basis.COURT,
        document="（2026）苏0102民特12号判决书",
        valid_from=dt.date(2026, 1, 1),
        valid_until=None,
        actor=StaffUserFactory(),
        channel=AuditEntry.Channel.COUNTER,
    )
    bind(wang, req(desheng, Relation.PARENT))
    assert told() == {
        ("王德胜", Kind.CONSENT_REQUESTED): 1,
        ("王丽", Kind.CONSENT_REQUESTED): 1,
    }
    note = Notification.objects.get(recipient=wangli)
    with translation.override("zh-hans"):
        body = notices.render(note)[1]
    assert "您监护的王*胜" in body and "代为同意" in body


def test_a_relationship_left_without_members_is_ended_by_the_r14_pass(demo):
    """What a pass that skipped a locked relationship leaves behind (or SQL drift)."""
    wang = demo["王建国"]
    Authorization.objects.filter(holder=wang).update(status=A.REVOKED, ended_at=NOW)
    assert Relationship.objects.get(holder=wang).status == "active"
    mark = audit_mark()
    assert services.statuses_reconcile(at=NOW) == 0
    assert actions_since(mark) == ["relationship.end"]
    relationship = Relationship.objects.get(holder=wang)
    assert (relationship.status, relationship.end_reason) == ("ended", "no_members")
    assert services.relationships_orphaned_end(at=NOW) == 0


@pytest.mark.django_db(transaction=True)
def test_the_holder_ending_the_relationship_while_it_expires_does_not_deadlock(demo_unbound):
    """`relationship_end` locks authorizations before the relationship, as the pass does."""
    holder = demo_unbound["马志强"]
    children = many_children(20)
    end = NOW + DAY
    bind(holder, *(req(child, end=end) for child in children))
    relationship = Relationship.objects.get(holder=holder)
    at = end + SECOND

    outcomes = run_together(
        lambda: services.authorizations_expire(at=at, batch_size=3),
        lambda: services.relationship_end(
            relationship=relationship,
            actor=holder.user,
            channel=AuditEntry.Channel.ONLINE,
            at=at,
        ),
    )

    assert outcomes[0][0] == "ok", outcomes
    assert outcomes[1][0] in ("ok", "refused"), outcomes  # refused: the pass ended it first
    assert not Authorization.objects.filter(status__in=Authorization.LIVE_STATUSES).exists()
    ended = Authorization.objects.filter(member__in=children)
    assert ended.filter(status__in=[A.EXPIRED, A.REVOKED]).count() == 20
    assert Relationship.objects.get(holder=holder).status == "ended"
    assert AuditEntry.objects.filter(action="relationship.end").count() == 1
