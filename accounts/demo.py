"""The demo cast of docs/demo.md: regions, premiums, people and staff.

Seeded through the real services (registration, activation), so the demo has audit entries like
real data. Idempotent: rows that exist are left as they are."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from . import services
from .models import AuditEntry, InsuredPerson, RegionPolicy, ResidentPremium, User
from .staff import ADMINISTRATOR, CLERK, SUPERVISOR

CITIZEN_PASSWORD = "Gongji-2025!"
STAFF_PASSWORD = "Staff-2025!"

_JIANGSU = {
    "member_scope": RegionPolicy.MemberScope.PROVINCE,
    "member_in_several_relationships": False,
    "consent_age": 16,
    "consent_days": 7,
    "counter_agreement": RegionPolicy.CounterAgreement.RELATIONSHIP_LETTER,
    # R23: the demo offers the wallet in all four regions (320100 and 659004 get it from
    # migration 0008, which runs before seed_demo; the seed sets it on the regions it creates).
    "wallet_enabled": True,
}
REGIONS = [
    ("320100", "南京市", _JIANGSU),
    ("320200", "无锡市", _JIANGSU),
    ("330100", "杭州市", _JIANGSU),
    (
        "659004",
        "五家渠市",
        {
            **_JIANGSU,
            "member_in_several_relationships": True,
            "online_letter": RegionPolicy.OnlineLetter.MUTUAL_AID_LETTER,
            "counter_agreement": RegionPolicy.CounterAgreement.WITHHOLDING_AGREEMENT,
        },
    ),
]
# R21 in all four regions: no caps, no floor, several holders per settlement, filing order, no
# spouse confirmation: the model defaults.


def _wujiaqu_premium(year: int) -> dict:
    shift = year - 2025
    return {
        "amount": Decimal("400.00"),
        "collection_start": dt.date(2024 + shift, 8, 26),
        "collection_end": dt.date(2024 + shift, 12, 20),
        "benefit_start": dt.date(2025 + shift, 1, 1),
        "benefit_end": dt.date(2025 + shift, 12, 31),
        "waiting_months": 3,
    }


def _jiangsu_premium(year: int) -> dict:
    """Demo figures: collection 1 September – 31 December of the year before (2026-09-01 –
    2026-12-31 for 2027)."""
    return {
        "amount": Decimal("400.00"),
        "collection_start": dt.date(year - 1, 9, 1),
        "collection_end": dt.date(year - 1, 12, 31),
        "benefit_start": dt.date(year, 1, 1),
        "benefit_end": dt.date(year, 12, 31),
        "waiting_months": 3,
    }


def premiums(today: dt.date | None = None) -> list[tuple[str, int, dict]]:
    """The cast's rows (659004 2025–2027, the 2025 row from the seed; 320100/320200 2027), and,
    so that the demo stays payable whenever it is loaded (docs/demo.md), the same demo rows
    shifted up to the year after today's."""
    last = max(2027, (today or timezone.localdate()).year + 1)
    wujiaqu = [("659004", year, _wujiaqu_premium(year)) for year in range(2025, last + 1)]
    jiangsu = [
        (code, year, _jiangsu_premium(year))
        for year in range(2027, last + 1)
        for code in ("320100", "320200")
    ]
    return wujiaqu + jiangsu


E, R = InsuredPerson.Scheme.EMPLOYEE, InsuredPerson.Scheme.RESIDENT
N, T = InsuredPerson.Status.NORMAL, InsuredPerson.Status.TRANSFERRED
# name, identity number, region, scheme, status, account balance (issue 4), activated
PEOPLE = [
    ("王建国", "32010219750312123X", "320100", E, N, Decimal("5000.00"), True),
    ("李秀英", "320104197708252463", "320100", E, N, Decimal("3200.00"), True),
    ("王小明", "320102201206011359", "320100", R, N, None, False),
    ("王丽", "320102200609182481", "320100", R, N, None, True),
    ("王德胜", "320111194801051113", "320100", R, N, None, True),
    ("周芳", "320211198004192224", "320200", E, N, Decimal("1500.00"), False),
    ("张伟", "320105198207073177", "320100", E, N, Decimal("800.00"), True),
    ("赵敏", "330106199002144288", "330100", E, N, Decimal("2000.00"), True),
    ("孙强", "320106197911305199", "320100", E, T, Decimal("600.00"), True),
    ("马志强", "659004198303221312", "659004", E, N, Decimal("1200.00"), True),
    ("古丽娜", "659004198506102428", "659004", E, N, Decimal("800.00"), True),
    ("马小燕", "659004201503092644", "659004", R, N, None, False),
    ("马俊", "65900420080801153X", "659004", R, N, None, False),
    # wave 2 (issue 15): 王建国's mother in 杭州, who opens a wallet and receives his transfer
    ("王秀兰", "330102195004182022", "330100", R, N, None, True),
]


def phone_for_row(row_number: int) -> str:
    return f"1380000{row_number:04d}"


PAYMENTS_VIEW = [
    "view_ledgeraccount",
    "view_ledgertransaction",
    "view_settlement",
    "view_refund",
    "view_premiumpayment",
    "view_creditimport",
    "view_institution",
    "view_outofregionfiling",
    # issue 5: nightly ledger reconciliation, shown to staff
    "view_reconciliationrun",
    "view_reconciliationmismatch",
]
COUNTER_WORK = [
    "view_counterbinding",
    "add_counterbinding",
    "change_authorization",
    "change_relationship",
    "add_premiumpayment",
]
# The wallet (R23): its state, holdings and transfers on the person page; opening and closing
# one for a person at the counter (R18) is counter work.
WALLET_VIEW = ["view_wallet", "view_holding", "view_entry", "view_transfer"]
WALLET_COUNTER_WORK = ["change_wallet"]
GROUP_PERMISSIONS = {
    CLERK: [
        "view_regionpolicy",
        "view_residentpremium",
        "view_insuredperson",
        "change_insuredperson",
        "view_auditentry",
        "view_notification",  # mails stuck in sending/failed (issue 5)
        # family (the app's models; codenames are unique across the apps)
        "view_relationship",
        "view_authorization",
        "view_commitmentletter",
        "view_guardianship",
        # payments: read the money; register out-of-region filings at the counter (R19)
        *PAYMENTS_VIEW,
        "add_outofregionfiling",
        "change_outofregionfiling",
        # staff console (issue 6): counter binding, revoke/end/order, premium at the counter
        *COUNTER_WORK,
        # the wallet at the counter (R23)
        *WALLET_VIEW,
        *WALLET_COUNTER_WORK,
    ],
    SUPERVISOR: [
        "view_regionpolicy",
        "change_regionpolicy",
        "view_residentpremium",
        "add_residentpremium",
        "change_residentpremium",
        "view_insuredperson",
        "change_insuredperson",
        "view_auditentry",
        "view_accessattempt",
        "delete_accessattempt",
        "view_notification",
        # family
        "view_relationship",
        "view_authorization",
        "view_commitmentletter",
        "view_guardianship",
        "add_guardianship",
        # payments: also import credit files and manage institutions
        *PAYMENTS_VIEW,
        "add_outofregionfiling",
        "change_outofregionfiling",
        "add_creditimport",
        "add_institution",
        "change_institution",
        # staff console (issue 6): also review counter bindings and export the audit trail
        *COUNTER_WORK,
        "review_counterbinding",
        "export_auditentry",
        # wallet (issue 15): read wallets and transfers, open and close them at the counter;
        # see and confirm their regions' clearing batches (R27)
        *WALLET_VIEW,
        *WALLET_COUNTER_WORK,
        "view_clearingbatch",
        "confirm_clearingbatch",
    ],
    # Reference data and schedules; reads everything of their regions, changes no person's
    # relationships or money (that is counter work).
    ADMINISTRATOR: [
        "view_regionpolicy",
        "add_regionpolicy",
        "change_regionpolicy",
        "view_residentpremium",
        "add_residentpremium",
        "change_residentpremium",
        "delete_residentpremium",
        "view_insuredperson",
        "view_auditentry",
        "export_auditentry",
        "view_notification",
        "view_accessattempt",
        "delete_accessattempt",
        "view_relationship",
        "view_authorization",
        "view_commitmentletter",
        "view_guardianship",
        "view_counterbinding",
        *PAYMENTS_VIEW,
        *WALLET_VIEW,
        "add_institution",
        "change_institution",
        # django-celery-beat: the schedules of issue 5
        "view_periodictask",
        "change_periodictask",
        "view_crontabschedule",
        "add_crontabschedule",
        "change_crontabschedule",
        "view_intervalschedule",
        "view_clockedschedule",
        "view_solarschedule",
    ],
}
STAFF = [
    ("js_clerk", "江苏窗口经办", CLERK, ["320100", "320200"]),
    ("js_super", "江苏审核", SUPERVISOR, ["320100", "320200"]),
    ("xj_clerk", "五家渠窗口经办", CLERK, ["659004"]),
]


def _activate(person: InsuredPerson) -> None:
    """The cast's activated people are loaded with their login, as the bureau's data load
    (channel 系统任务). A citizen at /accounts/activate/ proves their phone with an SMS code
    (accounts.services.citizen_activate); the seed has no phone to read one from."""
    before = services.person_snapshot(person)
    user = User(username=f"c_{uuid.uuid4().hex}", first_name=person.name)
    user.set_password(CITIZEN_PASSWORD)
    user.save()
    person.user = user
    person.save(update_fields=["user", "updated_at"])
    services.audit_record(
        actor=None,
        channel=AuditEntry.Channel.SYSTEM,
        action="person.activate",
        obj=person,
        person=person,
        before=before,
        after=services.person_snapshot(person),
    )


def seed_accounts(*, log=print) -> None:
    with transaction.atomic():
        regions = {}
        for code, name, policy in REGIONS:
            regions[code], created = RegionPolicy.objects.get_or_create(
                code=code, defaults={"name": name, **policy}
            )
            if created:
                log(f"region {code} {name}")
        for code, year, values in premiums():
            ResidentPremium.objects.get_or_create(region=regions[code], year=year, defaults=values)

        for row_number, (name, number, code, scheme, status, _balance, activated) in enumerate(
            PEOPLE, start=1
        ):
            person = InsuredPerson.objects.filter(id_number=number).first()
            if person is None:
                person = services.insured_person_register(
                    name=name,
                    id_number=number,
                    phone=phone_for_row(row_number),
                    region=regions[code],
                    scheme=scheme,
                    actor=None,
                    channel=AuditEntry.Channel.SYSTEM,
                )
                log(f"person {name}")
            if activated and person.user_id is None:
                # Activation runs while the person is still normal (as in life), then the
                # status the cast gives is applied.
                _activate(person)
            if person.status != status:
                person.refresh_from_db()
                before = services.snapshot(person)
                person.status = status
                person.save(update_fields=["status", "updated_at"])
                services.audit_record(
                    actor=None,
                    channel=AuditEntry.Channel.SYSTEM,
                    action="person.status_change",
                    obj=person,
                    person=person,
                    before=before,
                    after=services.snapshot(person),
                )

        for group_name, codenames in GROUP_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=group_name)
            group.permissions.set(Permission.objects.filter(codename__in=codenames))
        for username, display, group_name, codes in STAFF:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": display, "is_staff": True}
            )
            if created:
                user.set_password(STAFF_PASSWORD)
                user.save(update_fields=["password"])
                user.groups.set([Group.objects.get(name=group_name)])
                user.regions.set([regions[c] for c in codes])
                log(f"staff {username}")
        if not User.objects.filter(username="admin").exists():
            admin = User.objects.create_superuser(
                username="admin", password=STAFF_PASSWORD, first_name="系统管理员"
            )
            admin.regions.set(regions.values())
            admin.groups.set([Group.objects.get(name=ADMINISTRATOR)])
            log("staff admin")
