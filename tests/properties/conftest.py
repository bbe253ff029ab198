"""The world the property tests attack: the demo cast with an object of every kind a URL can
name, built once per module through the real services inside a transaction that is rolled back
at the module's end (each test, and each example, runs in a savepoint of it)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEntry, Notification, RegionPolicy
from family import services as family_services
from family.models import Authorization, Relation
from payments import services as payment_services
from payments.models import Institution
from tests.demo import load_demo
from tests.family.builders import bind, req
from tests.staff.counter_helpers import SISTER, signed
from wallet import services as wallet_services
from wallet.rules import is_night


def _daytime(now: dt.datetime) -> dt.datetime:
    """`now`, or at night (no transfer is sent then, R24) the last 21:00 before it: the world is
    built whenever the suite runs, and its transfer must still be answerable."""
    if not is_night(now):
        return now
    local = timezone.localtime(now)
    day = local.date() if local.hour >= 22 else local.date() - dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(21, 0)))


def _transfer(p):
    """赵敏 (杭州) sends 王秀兰 100.00, which waits for her answer (R24, R25); 王建国 has
    nothing pending, so his send page shows its form."""
    mother = p["王秀兰"]
    wallet_services.wallet_open(
        person=mother,
        actor=mother.user,
        channel=AuditEntry.Channel.ONLINE,
        confirm_place=True,
        confirm_phone=True,
    )
    transfer, _created = wallet_services.transfer_send(
        sender=p["赵敏"],
        actor=p["赵敏"].user,
        channel=AuditEntry.Channel.ONLINE,
        recipient=mother,
        relation=Relation.PARENT,
        amount=Decimal("100.00"),
        idempotency_key="properties-transfer",
        at=_daytime(timezone.now()),
    )
    return transfer


def _batch(p):
    """王建国 gives his father 王德胜 50.00, which he spends at HZ-HOSP-001 (杭州); the night's
    clearing makes a batch, 南京 owing 杭州 (R26, R27)."""
    father, at = p["王德胜"], _daytime(timezone.now())
    wallet_services.wallet_open(
        person=father,
        actor=father.user,
        channel=AuditEntry.Channel.ONLINE,
        confirm_place=True,
        confirm_phone=True,
    )
    transfer, _created = wallet_services.transfer_send(
        sender=p["王建国"],
        actor=p["王建国"].user,
        channel=AuditEntry.Channel.ONLINE,
        recipient=father,
        relation=Relation.PARENT,
        amount=Decimal("50.00"),
        idempotency_key="properties-batch",
        at=at,
    )
    wallet_services.transfer_accept(
        transfer=transfer, actor=father.user, channel=AuditEntry.Channel.ONLINE, at=at
    )
    payment_services.settlement_create(
        institution=Institution.objects.get(code="HZ-HOSP-001"),
        patient=father,
        category="outpatient",
        amount=Decimal("50.00"),
        occurred_at=at,
        items=[],
        idempotency_key="properties-batch",
        request_hash="properties",
        at=at,
    )
    [batch] = wallet_services.clearing_run(at=at + dt.timedelta(days=1))
    return batch


def _build() -> SimpleNamespace:
    demo = load_demo()
    people, staff = demo.people, demo.staff
    p = people
    # 王建国 asks his wife online: her consent waits (R8).
    bind(p["王建国"], req(p["李秀英"], Relation.SPOUSE), at=None)
    consent = Authorization.objects.get(holder=p["王建国"], member=p["李秀英"])
    # At the counter he binds his sister; with a threshold of none it waits for a supervisor
    # (his daughter stays free for the bind wizard's draft). 张伟's binding is only opened.
    RegionPolicy.objects.filter(code="320100").update(review_member_threshold=0)
    review = family_services.counter_binding_submit(
        binding=signed(demo, "王建国", [SISTER]), actor=staff["js_clerk"]
    )
    draft = family_services.counter_binding_start(holder=p["张伟"], actor=staff["js_clerk"])
    premium, _ = payment_services.premium_pay(
        holder=p["王建国"],
        member=p["王德胜"],
        year=timezone.localdate().year + 1,
        pay_type="family",
        idempotency_key="properties-premium",
        commitment_agreed=True,
        actor=p["王建国"].user,
    )
    son = Authorization.objects.get(holder=p["王建国"], member=p["王小明"])
    letter = son.letters.latest("signed_at")
    objects = {
        "authorization": son.public_id,
        "consent": consent.public_id,
        "letter": letter.public_id,
        "verification": letter.verification_code,
        "relationship": son.relationship.public_id,
        "person": p["王建国"].public_id,
        "member": p["王小明"].public_id,
        "ward": p["马小燕"].public_id,
        "parent": p["王德胜"].public_id,
        "parent_authorization": Authorization.objects.get(
            holder=p["王建国"], member=p["王德胜"]
        ).public_id,
        "premium": premium.public_id,
        "notification": Notification.objects.filter(recipient=p["王建国"]).first().public_id,
        "binding": draft.public_id,
        "review": review.public_id,
        "next_year": timezone.localdate().year + 1,
        "transfer": _transfer(p).public_id,
        "batch": _batch(p).public_id,
    }
    users = {
        **staff,
        **{name: person.user for name, person in p.items() if person.user_id},
    }
    return SimpleNamespace(
        people=p, staff=staff, users=users, objects=objects, institutions=Institution.objects
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer._from_testcase = True  # the services' durable blocks nest in it, as in a TestCase
        outer.__enter__()
        try:
            yield _build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
