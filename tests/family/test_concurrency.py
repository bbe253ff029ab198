"""Races on real PostgreSQL connections: threads started together by a barrier, each committing
its own transaction (R5, R4, R8). Every thread closes its connection when done."""

import datetime as dt
import threading

import pytest

from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from family import errors as family_errors
from family import selectors as family_selectors
from family import services
from family.models import Authorization, CommitmentLetter, Relationship
from family.services import binding
from tests.clock import NOW
from tests.factories import InsuredPersonFactory, make_id_number
from tests.family.builders import DAY, A, bind, req
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def binder(holder, member):
    """Bind `member` as `holder` would from the bind page (real clock, window from signing)."""

    def call():
        return services.relationship_bind(
            holder=holder,
            members=[req(member)],
            signature=services.Signature(name=holder.name),
            actor=holder.user,
            channel=AuditEntry.Channel.ONLINE,
        )

    return call


def new_child(code, seq, birth=dt.date(2019, 5, 1)):
    return InsuredPersonFactory(
        name=f"孩子{seq}",
        region=RegionPolicy.objects.get(code=code),
        id_number=make_id_number(code, birth, seq),
        scheme=InsuredPerson.Scheme.RESIDENT,
    )


def test_two_holders_binding_the_same_member_at_once_exclusive_policy(demo_unbound):  # R5
    wang, li = demo_unbound["王建国"], demo_unbound["李秀英"]
    for round_number in range(4):
        child = (
            demo_unbound["王小明"] if round_number == 0 else new_child("320100", 700 + round_number)
        )
        outcomes = run_together(binder(wang, child), binder(li, child))
        kinds = sorted(kind for kind, _value in outcomes)
        assert kinds == ["ok", "refused"], outcomes
        refusal = next(value for kind, value in outcomes if kind == "refused")
        assert refusal == [str(family_errors.MEMBER_IN_OTHER_RELATIONSHIP)]
        assert Authorization.objects.live().filter(member=child).count() == 1
        winner = Authorization.objects.live().get(member=child).holder
        loser = li if winner == wang else wang
        # the loser's transaction left nothing behind: no authorization, letter or audit row
        assert not Authorization.objects.filter(holder=loser, member=child).exists()
        assert not AuditEntry.objects.filter(
            action="authorization.create", person=child, actor=loser.user
        ).exists()
    assert Relationship.objects.filter(status="active").count() in (1, 2)


def test_the_database_alone_keeps_an_exclusive_member_in_one_relationship(
    demo_unbound, monkeypatch
):  # R5
    """Without the person-row locks, and with both requests held until both have passed the
    Python checks, the partial unique index refuses the second insert; the service reports it
    with the R5 message."""

    def no_locks(persons):
        rows = InsuredPerson.objects.select_related("region", "user").filter(
            pk__in={p.pk for p in persons}
        )
        return {p.pk: p for p in rows}

    checked = threading.Barrier(2)
    bind_check = family_selectors.bind_check

    def bind_check_then_wait(**kwargs):
        errors = bind_check(**kwargs)
        checked.wait(timeout=10)
        return errors

    monkeypatch.setattr(binding, "lock_persons", no_locks)
    monkeypatch.setattr(binding, "bind_check", bind_check_then_wait)
    child = demo_unbound["王小明"]
    outcomes = run_together(
        binder(demo_unbound["王建国"], child), binder(demo_unbound["李秀英"], child)
    )
    assert sorted(kind for kind, _value in outcomes) == ["ok", "refused"], outcomes
    assert [value for kind, value in outcomes if kind == "refused"] == [
        [str(family_errors.MEMBER_IN_OTHER_RELATIONSHIP)]
    ]
    assert Authorization.objects.live().filter(member=child).count() == 1
    assert CommitmentLetter.objects.count() == 1


def test_the_same_binding_submitted_twice_at_once_binds_once(demo_unbound):  # R4
    wang, xiaoming = demo_unbound["王建国"], demo_unbound["王小明"]
    outcomes = run_together(binder(wang, xiaoming), binder(wang, xiaoming))
    assert sorted(kind for kind, _value in outcomes) == ["ok", "refused"], outcomes
    assert [value for kind, value in outcomes if kind == "refused"] == [
        [str(family_errors.MEMBER_ALREADY_BOUND_HERE)]
    ]
    assert Relationship.objects.filter(holder=wang).count() == 1
    assert Authorization.objects.filter(member=xiaoming).count() == 1
    assert CommitmentLetter.objects.filter(holder=wang).count() == 1
    assert AuditEntry.objects.filter(action="letter.sign").count() == 1


def test_both_parents_binding_their_child_at_once_multi_holder_policy(demo_unbound):  # R5
    child = demo_unbound["马小燕"]
    outcomes = run_together(
        binder(demo_unbound["马志强"], child), binder(demo_unbound["古丽娜"], child)
    )
    assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
    rows = Authorization.objects.live().filter(member=child)
    assert sorted(a.holder.name for a in rows) == ["古丽娜", "马志强"]
    assert all(a.status == A.ACTIVE and not a.exclusive for a in rows)


def test_two_lapse_runs_at_once_lapse_each_request_once(demo_unbound):  # R8
    holders = [demo_unbound["王建国"], demo_unbound["李秀英"], demo_unbound["张伟"]]
    adults = [new_child("320100", 800 + n, birth=dt.date(1990, 1, 1)) for n in range(6)]
    for index, holder in enumerate(holders):
        bind(holder, req(adults[2 * index]), req(adults[2 * index + 1]))
    assert Authorization.objects.filter(status=A.PENDING_CONSENT).count() == 6
    after_deadline = NOW + 8 * DAY

    def lapse():
        return services.consents_lapse(at=after_deadline, batch_size=1)

    outcomes = run_together(lapse, lapse)
    assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
    assert sum(value for _kind, value in outcomes) == 6
    assert Authorization.objects.filter(status=A.LAPSED).count() == 6
    assert AuditEntry.objects.filter(action="authorization.lapse").count() == 6
    assert AuditEntry.objects.filter(action="relationship.end").count() == 3
    assert not Relationship.objects.filter(status="active").exists()
