"""Issue 13 point 4: a revoke, leave, end or status change races a settlement. Once the change
has returned to the person who asked for it, no payment may use what it ended: a settlement that
read the authorizations earlier and then queued on a busy account used to pay through a revoked
authorization up to 1.2 s after the revoke's answer.

Made deterministic: a third connection holds the holder's account row, so the settlement is
certainly past its read of the authorizations and waiting when the change starts; the account is
released only once the change has either returned or is itself waiting. Real transactions and
threads on PostgreSQL."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from accounts.models import AuditEntry, InsuredPerson
from family import services as family_services
from family.models import Authorization, Relationship
from payments.models import Institution, LedgerAccount, SettlementLine
from tests.demo import load_demo, people
from tests.payments.builders import settle

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _until(condition, *, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _revoke(cast):
    auth = Authorization.objects.get(holder=cast["王建国"], member=cast["王德胜"])
    family_services.authorization_revoke(
        authorization=auth, actor=cast["王建国"].user, channel=AuditEntry.Channel.ONLINE
    )


def _leave(cast):
    auth = Authorization.objects.get(holder=cast["王建国"], member=cast["王德胜"])
    family_services.authorization_leave(
        authorization=auth, actor=cast["王德胜"].user, channel=AuditEntry.Channel.ONLINE
    )


def _end(cast):
    relationship = Relationship.objects.get(holder=cast["王建国"], status="active")
    family_services.relationship_end(
        relationship=relationship, actor=cast["王建国"].user, channel=AuditEntry.Channel.ONLINE
    )


def _status_change(name: str, status: str):
    def change(cast):
        family_services.person_status_change(
            person=cast[name],
            status=status,
            reason="窗口办理",
            actor=get_user_model().objects.get(username="js_clerk"),
            channel=AuditEntry.Channel.COUNTER,
        )

    return change


CHANGES = {
    "revoke": _revoke,
    "leave": _leave,
    "end": _end,
    "holder suspended": _status_change("王建国", InsuredPerson.Status.SUSPENDED),
    "member transferred": _status_change("王德胜", InsuredPerson.Status.TRANSFERRED),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_once_the_change_has_returned_no_settlement_pays_through_it(change):
    load_demo()
    cast = people()
    hospital = Institution.objects.get(code="JS-HOSP-001")
    account = LedgerAccount.objects.get(person=cast["王建国"])
    held, release = threading.Event(), threading.Event()
    times: dict[str, float] = {}
    outcomes: dict[str, object] = {}

    def blocker():
        try:
            with transaction.atomic():
                LedgerAccount.objects.select_for_update().get(pk=account.pk)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    def settlement():
        try:
            outcomes["settlement"] = settle(hospital, cast["王德胜"], "50.00")
        except Exception as exc:  # reported below
            outcomes["settlement"] = exc
        finally:
            times["settled"] = time.monotonic()
            connection.close()

    def ending():
        try:
            change(cast)
            outcomes["change"] = "done"
        except Exception as exc:
            outcomes["change"] = exc
        finally:
            times["changed"] = time.monotonic()
            connection.close()

    threads = [threading.Thread(target=blocker, daemon=True)]
    threads[0].start()
    assert held.wait(10)
    threads.append(threading.Thread(target=settlement, daemon=True))
    threads[1].start()
    assert _until(lambda: _waiting_on_locks() >= 1), "the settlement never queued on the account"
    threads.append(threading.Thread(target=ending, daemon=True))
    threads[2].start()
    # Either the change returns (it did not wait for the settlement) or it queues behind it.
    _until(lambda: "changed" in times or _waiting_on_locks() >= 2)
    returned_while_settlement_waited = "changed" in times
    release.set()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    assert outcomes["change"] == "done", outcomes
    assert not isinstance(outcomes["settlement"], Exception), outcomes

    paid_through = SettlementLine.objects.filter(
        settlement=outcomes["settlement"], source=SettlementLine.Source.MUTUAL_AID
    ).exists()
    if returned_while_settlement_waited:
        # The person was told it is done: the settlement still waiting must not use it.
        assert not paid_through, "paid through an authorization after its end had returned"
        assert outcomes["settlement"].cash_due == Decimal("50.00")
