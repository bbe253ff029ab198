"""A settlement written in one SQL statement (issue 16 point 2) writes what the ORM writes: the
settlement, its lines, the ledger movement and its legs with the balance after each, every
balance, the audit entry, the holders' notices and the wallet's entries. Each writer settles
the same request in a savepoint that is then rolled back and what each wrote is compared, for
the kinds of payment there are: own account, mutual aid from one holder and from two then cash,
all cash, and the wallet with mutual aid and the clearing legs across regions (R9, R10, R21,
R26, R27)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction

from accounts.models import AuditEntry, Notification, RegionPolicy
from family.models import Relation
from payments.models import (
    Institution,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
    Settlement,
    SettlementLine,
)
from payments.services import ledger
from payments.services import settlement as service
from tests.clock import NOW
from tests.payments.builders import settle
from tests.wallet.helpers import give, open_wallet
from wallet.models import Entry, Holding

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


def _plain(value, public_id: str):
    return json.loads(json.dumps(value, default=str).replace(public_id, "<id>"))


def written(settlement: Settlement) -> dict:
    sid = str(settlement.public_id)
    tx = LedgerTransaction.objects.filter(idempotency_key=f"settlement:{sid}")
    row = Settlement.objects.filter(pk=settlement.pk).values().get()
    for name in ("id", "public_id", "created_at", "updated_at", "ledger_transaction_id"):
        row.pop(name)
    return _plain(
        {
            "settlement": row,
            "linked": Settlement.objects.get(pk=settlement.pk).ledger_transaction_id
            == (tx.get().pk if tx else None),
            "lines": list(
                SettlementLine.objects.filter(settlement=settlement)
                .order_by("position")
                .values_list(
                    "position", "source", "account_id", "payer_id", "authorization_id", "amount"
                )
            ),  # fmt: skip
            "entries": list(
                tx.values_list("kind", "description", "occurred_at", "idempotency_key")
            ),
            "legs": list(
                LedgerLeg.objects.filter(transaction__in=tx)
                .order_by("id")
                .values_list("account_id", "amount", "balance_after")
            ),
            "balances": dict(LedgerAccount.objects.values_list("pk", "balance")),
            "audit": list(
                AuditEntry.objects.filter(action="settlement.create", object_id=sid).values_list(
                    "actor_id",
                    "channel",
                    "object_type",
                    "object_id",
                    "person_id",
                    "before",
                    "after",
                )
            ),  # fmt: skip
            "told": sorted(
                Notification.objects.filter(key__contains=sid).values_list(
                    "recipient_id", "kind", "key", "params", "link"
                ),
                key=str,
            ),
            "wallet": list(
                Entry.objects.filter(settlement_line__settlement=settlement)
                .order_by("id")
                .values_list("kind", "amount", "balance_after", "owing_region_id")
            ),
            "holdings": dict(Holding.objects.values_list("pk", "balance")),
            "answer": [(line.position, line.pk is not None) for line in settlement.written_lines],
        },
        sid,
    )


def run(writer: str, monkeypatch, institution, patient, amount: str) -> dict:
    monkeypatch.setattr(service, "_writer", lambda: writer)
    try:
        with transaction.atomic():
            settlement = service._settle(
                institution=institution,
                patient=patient,
                category="outpatient",
                amount=Decimal(amount),
                occurred_at=NOW - dt.timedelta(hours=1),
                items=[{"name": "西药费", "amount": amount}],
                idempotency_key="same",
                request_hash="h",
                at=NOW,
            )
            seen = written(settlement)
            raise Rollback
    except Rollback:
        return seen


CASES = {
    "own account": ("JS-HOSP-001", "王建国", "120.50"),
    "one holder": ("JS-HOSP-001", "王小明", "120.50"),
    "two holders then cash": ("XJ-HOSP-001", "马小燕", "2500.00"),
    "all cash": ("XJ-HOSP-001", "马俊", "99.99"),
    "wallet then mutual aid, cleared": ("JS-HOSP-001", "王德胜", "700.00"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_sql_settlement_writes_what_the_orm_settlement_writes(demo, monkeypatch, case):
    code, name, amount = CASES[case]
    people = demo.people
    if name == "王德胜":
        open_wallet(people["王德胜"])
        give(people["赵敏"], people["王德胜"], "100.00", relation=Relation.PATERNAL_GRANDPARENT)
    # every bureau account opened beforehand: one opened in a savepoint would not outlive it
    for region in RegionPolicy.objects.all():
        for kind in LedgerAccount.Kind.values:
            if kind != LedgerAccount.Kind.PERSONAL:
                ledger.bureau_account(kind, region)
    hospital = Institution.objects.get(code=code)
    orm = run("orm", monkeypatch, hospital, people[name], amount)
    sql = run("sql", monkeypatch, hospital, people[name], amount)
    assert orm == sql
    assert sql["linked"] and len(sql["audit"]) == 1
    sources = {line[1] for line in sql["lines"]}
    expected = {
        "own account": {"own"},
        "one holder": {"mutual_aid"},
        "two holders then cash": {"mutual_aid"},
        "all cash": set(),
        "wallet then mutual aid, cleared": {"wallet", "mutual_aid"},
    }[case]
    assert sources == expected
    if case == "wallet then mutual aid, cleared":
        assert len(sql["legs"]) == 5 and sql["wallet"]  # two paid, payable, two clearing
    if case == "all cash":
        assert sql["entries"] == [] and sql["settlement"]["cash_due"] == "99.99"


def test_a_fault_after_the_first_line_leaves_nothing_behind(demo, monkeypatch):
    """The fault hook (tests only) fires once the lines are written, as in the ORM writer; the
    settlement's durable transaction then leaves nothing."""
    people = demo.people
    hospital = Institution.objects.get(code="JS-HOSP-001")
    before = dict(LedgerAccount.objects.values_list("pk", "balance"))
    counts = (Settlement.objects.count(), LedgerLeg.objects.count(), AuditEntry.objects.count())

    def fault():
        raise RuntimeError("fault after the first line")

    monkeypatch.setattr(service, "fault_after_first_line", fault)
    with pytest.raises(RuntimeError):
        settle(hospital, people["王小明"], "10.00", key="fault")
    assert dict(LedgerAccount.objects.values_list("pk", "balance")) == before
    assert (
        Settlement.objects.count(),
        LedgerLeg.objects.count(),
        AuditEntry.objects.count(),
    ) == counts
