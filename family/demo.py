"""Relationships of the demo cast (docs/demo.md), made through the real services with
the clock set to when they happened (2025-01-01), so the demo has letters and audit entries like
real data. Idempotent: a holder who has ever had a relationship is left as they are."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry, InsuredPerson

from . import services
from .models import Relation, Relationship

SHANGHAI = ZoneInfo("Asia/Shanghai")
SIGNED_AT = dt.datetime(2024, 12, 31, 10, 0, tzinfo=SHANGHAI)
START = dt.datetime(2025, 1, 1, 0, 0, tzinfo=SHANGHAI)
# 王德胜's window ends on 31 December at 23:59:59 (2026-12-31 in the cast). The demo must stay
# usable whenever it is loaded (docs/demo.md: dates that must stay usable move with today), so
# it is the next 31 December at least END_MARGIN away: 2026-12-31 until mid-December 2026, then
# a year later, and so on.
END_MARGIN = dt.timedelta(days=14)


def desheng_end(today: dt.date | None = None) -> dt.datetime:
    today = today or timezone.localdate()
    year = today.year if dt.date(today.year, 12, 31) - today >= END_MARGIN else today.year + 1
    return dt.datetime(year, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)


def bindings() -> list[tuple[str, list[tuple[str, str, dt.datetime | None]]]]:
    """holder, [(member, relation, end)]"""
    return [
        ("王建国", [("王小明", Relation.CHILD, None), ("王德胜", Relation.PARENT, desheng_end())]),
        ("马志强", [("马小燕", Relation.CHILD, None)]),
        ("古丽娜", [("马小燕", Relation.CHILD, None)]),
    ]


def seed_family(*, log=print) -> None:
    people = {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}
    channel = AuditEntry.Channel.ONLINE
    with transaction.atomic():
        for holder_name, rows in bindings():
            holder = people[holder_name]
            if Relationship.objects.filter(holder=holder).exists():
                continue
            members = [
                services.MemberRequest(people[name], relation, START, end)
                for name, relation, end in rows
            ]
            letter = services.relationship_bind(
                holder=holder,
                members=members,
                signature=services.Signature(name=holder.name),
                actor=holder.user,
                channel=channel,
                at=SIGNED_AT,
            )
            log(f"relationship {holder_name}: {', '.join(n for n, _r, _e in rows)}")
            for authorization in letter.authorizations.filter(status="pending_consent"):
                member = authorization.member
                services.authorization_answer(
                    authorization=authorization,
                    agree=True,
                    actor=member.user,
                    evidence=CITIZEN_PASSWORD,
                    at=SIGNED_AT + dt.timedelta(hours=2),
                )
                log(f"consent {member.name}")

        # What the every-minute task did at midnight on 2025-01-01: the windows started.
        if services.authorizations_activate(at=START):
            log("authorizations started 2025-01-01")

        # 马小燕 is a minor: a holder sets her order (R10): 马志强 first, 古丽娜 second.
        xiaoyan = people["马小燕"]
        order = list(xiaoyan.authorizations_received.live().select_related("holder"))
        if len(order) == 2 and any(a.deduction_position is None for a in order):
            order.sort(key=lambda a: a.holder.name != "马志强")
            services.deduction_order_set(
                member=xiaoyan,
                ordered=order,
                actor=people["马志强"].user,
                channel=channel,
                at=SIGNED_AT + dt.timedelta(days=1),
            )
            log("deduction order 马小燕: 马志强, 古丽娜")
