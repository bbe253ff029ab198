"""Money of the demo cast (docs/demo.md): the account balances as credits, and the
institutions with their published demo secrets. Idempotent."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.demo import PEOPLE
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy

from . import services
from .models import Institution

SHANGHAI = ZoneInfo("Asia/Shanghai")
CREDITED_AT = dt.datetime(2024, 12, 1, 9, 0, tzinfo=SHANGHAI)
H, P, V = Institution.Kind.HOSPITAL, Institution.Kind.PHARMACY, Institution.Kind.VACCINATION
INSTITUTIONS = [
    ("JS-HOSP-001", "南京市第一医院", H, "320100", True, "demo-secret-js-hosp-001"),
    ("JS-PHARM-001", "南京市仁和大药房", P, "320100", True, "demo-secret-js-pharm-001"),
    ("JS-VAX-001", "南京市鼓楼区预防接种门诊", V, "320100", True, "demo-secret-js-vax-001"),
    ("XJ-HOSP-001", "五家渠市人民医院", H, "659004", True, "demo-secret-xj-hosp-001"),
    ("JS-CLINIC-009", "南京市某未定点诊所", H, "320100", False, "demo-secret-js-clinic-009"),
    # wave 2 (issue 15): settles 王秀兰's costs from her wallet in the demo's wallet story
    ("HZ-HOSP-001", "杭州市第一人民医院", H, "330100", True, "demo-secret-hz-hosp-001"),
]


def seed_balances(*, log=print) -> None:
    """Credit each employee of the cast with the balance docs/demo.md gives (once)."""
    people = {p.id_number: p for p in InsuredPerson.objects.all()}
    for name, number, _code, _scheme, _status, balance, _activated in PEOPLE:
        if balance is None:
            continue
        services.account_credit(
            person=people[number],
            amount=balance,
            idempotency_key=f"demo-opening-balance:{number}",
            description="演示数据：期初余额",
            actor=None,
            channel=AuditEntry.Channel.SYSTEM,
            at=CREDITED_AT,
        )
        log(f"{name}: balance {balance}")


@transaction.atomic
def seed_institutions(*, log=print) -> None:
    for code, name, kind, region, designated, secret in INSTITUTIONS:
        if Institution.objects.filter(code=code).exists():
            continue
        services.institution_create(
            code=code,
            name=name,
            kind=kind,
            region=RegionPolicy.objects.get(code=region),
            designated=designated,
            actor=None,
            channel=AuditEntry.Channel.SYSTEM,
            api_secret=secret,
        )
        log(f"institution {code} {name}")
