"""Load the benchmark's patients into the bench database through the portal's own services.

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.populate --patients 1000 \\
        --families 200 --out /tmp/plan.json

Run after `migrate` and `seed_demo` (bench/settlement.py does all three). Loads:
- `patients` employee-scheme persons, registered (accounts.services.insured_person_register)
  and credited with an opening balance (payments.services.account_credit):
  the first `patients - 2 * families` in 320100 (南京), who pay from their own account at
  JS-HOSP-001, and `2 * families` parents in 659004 (五家渠), who pay for themselves at XJ-HOSP-001;
- `families` resident-scheme children under 16 in 659004, each bound by both parents at the
  counter (family.services.relationship_bind, counter channel, clerk xj_clerk) with the deduction
  order set to father first, mother second (R10): their settlements at XJ-HOSP-001 are paid by
  mutual aid from the first parent's account (R9).
Writes a JSON plan: the patients with their institution, the institutions' demo secrets, and the
personal-account id range and payable account pgbench needs. Identity numbers are valid GB 11643
numbers with birth dates no demo person has."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN_REGION, FAMILY_REGION = "320100", "659004"
OWN_INSTITUTION, FAMILY_INSTITUTION = "JS-HOSP-001", "XJ-HOSP-001"
EMPLOYEE_BIRTH = dt.date(1960, 1, 1)  # + i days: no two bench employees share a number
CHILD_BIRTH = dt.date(2014, 1, 1)  # + i days: under 16 (R8: bound without consent)


def id_number(region: str, birth: dt.date, seq: int) -> str:
    from accounts import idnumber

    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + idnumber.check_char(first17)


def populate(*, patients: int, families: int, balance: Decimal, log=print) -> dict:
    from django.utils import timezone

    from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, User
    from accounts.services import insured_person_register
    from family import services as family
    from family.models import Relation
    from payments.demo import INSTITUTIONS
    from payments.models import LedgerAccount
    from payments.services import account_credit
    from payments.services.ledger import bureau_account, personal_account_for

    if patients < 2 * families + 1:
        raise SystemExit("--patients must exceed 2 × --families")
    system = AuditEntry.Channel.SYSTEM
    regions = {r.code: r for r in RegionPolicy.objects.filter(code__in=[OWN_REGION, FAMILY_REGION])}
    clerk = User.objects.get(username="xj_clerk")
    now = timezone.now()
    credited_at = now - dt.timedelta(hours=2)
    bound_at = now - dt.timedelta(hours=1)

    # The payable accounts first, so that the personal accounts below get consecutive ids
    # (pgbench draws `\set id random(lo, hi)` over them).
    payable = {
        code: bureau_account(LedgerAccount.Kind.INSTITUTION_PAYABLE, region)
        for code, region in regions.items()
    }
    started = time.monotonic()
    own_count = patients - 2 * families
    employees = []
    for i in range(patients):
        region = OWN_REGION if i < own_count else FAMILY_REGION
        birth = EMPLOYEE_BIRTH + dt.timedelta(days=i)
        employees.append(
            insured_person_register(
                name=f"压测职工{i:05d}",
                id_number=id_number(region, birth, 101 + 2 * (i % 2)),
                phone=f"139{i:08d}",
                region=regions[region],
                scheme=InsuredPerson.Scheme.EMPLOYEE,
                actor=None,
                channel=system,
            )
        )
    accounts = [personal_account_for(person) for person in employees]
    for person in employees:
        account_credit(
            person=person,
            amount=balance,
            idempotency_key=f"bench-opening:{person.id_number}",
            description="压测：期初余额",
            actor=None,
            channel=system,
            at=credited_at,
        )
    log(
        f"  {patients} employees registered and credited {balance} each "
        f"({time.monotonic() - started:.1f} s)"
    )

    started = time.monotonic()
    children = []
    parents = employees[own_count:]
    for j in range(families):
        child = insured_person_register(
            name=f"压测儿童{j:05d}",
            id_number=id_number(FAMILY_REGION, CHILD_BIRTH + dt.timedelta(days=j), 102),
            phone=f"137{j:08d}",
            region=regions[FAMILY_REGION],
            scheme=InsuredPerson.Scheme.RESIDENT,
            actor=None,
            channel=system,
        )
        authorizations = []
        for holder in parents[2 * j : 2 * j + 2]:
            letter = family.relationship_bind(
                holder=holder,
                members=[family.MemberRequest(child, Relation.CHILD, None, None)],
                signature=family.Signature(name=holder.name),
                actor=clerk,
                channel=AuditEntry.Channel.COUNTER,
                at=bound_at,
            )
            authorizations.append(letter.authorizations.get(member=child))
        family.deduction_order_set(
            member=child,
            ordered=authorizations,
            actor=clerk,
            channel=AuditEntry.Channel.COUNTER,
            at=bound_at + dt.timedelta(minutes=1),
        )
        children.append(child)
    if families:
        log(
            f"  {families} children bound by both parents, deduction order set "
            f"({time.monotonic() - started:.1f} s)"
        )

    ids = sorted(account.pk for account in accounts)
    secrets = {code: secret for code, _n, _k, _r, _d, secret in INSTITUTIONS}
    plan_patients = [
        {"id_number": p.id_number, "institution": OWN_INSTITUTION, "kind": "own"}
        for p in employees[:own_count]
    ]
    plan_patients += [
        {"id_number": p.id_number, "institution": FAMILY_INSTITUTION, "kind": "holder_own"}
        for p in parents
    ]
    plan_patients += [
        {"id_number": c.id_number, "institution": FAMILY_INSTITUTION, "kind": "mutual_aid"}
        for c in children
    ]
    return {
        "patients": plan_patients,
        "secrets": {code: secrets[code] for code in (OWN_INSTITUTION, FAMILY_INSTITUTION)},
        "account_ids": {"lo": ids[0], "hi": ids[-1], "count": len(ids)},
        "payable_account_id": payable[OWN_REGION].pk,
        "opening_balance": str(balance),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Load the settlement benchmark's patients.")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--families", type=int, default=200)
    parser.add_argument("--balance", default="1000.00")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    plan = populate(patients=args.patients, families=args.families, balance=Decimal(args.balance))
    Path(args.out).write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
