"""seed_demo loads exactly the cast of docs/demo.md; running it again changes nothing."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from accounts.demo import CITIZEN_PASSWORD, STAFF_PASSWORD
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy, ResidentPremium, User

CAST = [
    # name, identity number, region, scheme, status, activated
    ("王建国", "32010219750312123X", "320100", "employee", "normal", True),
    ("李秀英", "320104197708252463", "320100", "employee", "normal", True),
    ("王小明", "320102201206011359", "320100", "resident", "normal", False),
    ("王丽", "320102200609182481", "320100", "resident", "normal", True),
    ("王德胜", "320111194801051113", "320100", "resident", "normal", True),
    ("周芳", "320211198004192224", "320200", "employee", "normal", False),
    ("张伟", "320105198207073177", "320100", "employee", "normal", True),
    ("赵敏", "330106199002144288", "330100", "employee", "normal", True),
    ("孙强", "320106197911305199", "320100", "employee", "transferred", True),
    ("马志强", "659004198303221312", "659004", "employee", "normal", True),
    ("古丽娜", "659004198506102428", "659004", "employee", "normal", True),
    ("马小燕", "659004201503092644", "659004", "resident", "normal", False),
    ("马俊", "65900420080801153X", "659004", "resident", "normal", False),
    ("王秀兰", "330102195004182022", "330100", "resident", "normal", True),  # issue 15
]


def _state():
    premiums = ResidentPremium.objects.order_by("region__code", "year")
    people = InsuredPerson.objects.order_by("id_number")
    users = User.objects.order_by("username")
    return (
        list(RegionPolicy.objects.order_by("code").values_list("code", "name")),
        list(premiums.values_list("region__code", "year", "amount")),
        list(people.values_list("id_number", "status", "user_id")),
        list(users.values_list("username", "is_staff", "is_superuser")),
        AuditEntry.objects.count(),
    )


def test_seed_demo_loads_exactly_the_cast_and_is_idempotent(db):
    call_command("seed_demo")
    people = {p.name: p for p in InsuredPerson.objects.select_related("region")}
    assert sorted(people) == sorted(row[0] for row in CAST)
    for row_number, (name, number, region, scheme, status, activated) in enumerate(CAST, 1):
        person = people[name]
        assert (person.id_number, person.region.code, person.scheme, person.status) == (
            number,
            region,
            scheme,
            status,
        ), name
        assert person.phone == f"1380000{row_number:04d}"
        assert (person.user_id is not None) == activated, name
    assert dict(RegionPolicy.objects.values_list("code", "name")) == {
        "320100": "南京市",
        "320200": "无锡市",
        "330100": "杭州市",
        "659004": "五家渠市",
    }
    assert RegionPolicy.objects.get(code="659004").member_in_several_relationships
    assert not RegionPolicy.objects.get(code="320200").member_in_several_relationships
    premium_2026 = ResidentPremium.objects.get(region__code="659004", year=2026)
    assert (premium_2026.amount, premium_2026.collection_start, premium_2026.benefit_end) == (
        Decimal("400.00"),
        dt.date(2025, 8, 26),
        dt.date(2026, 12, 31),
    )
    assert ResidentPremium.objects.get(region__code="320200", year=2027).collection_start == (
        dt.date(2026, 9, 1)
    )
    staff = {u.username: u for u in User.objects.filter(is_staff=True)}
    assert sorted(staff) == ["admin", "js_clerk", "js_super", "xj_clerk"]
    assert sorted(staff["js_clerk"].regions.values_list("code", flat=True)) == ["320100", "320200"]
    assert list(staff["xj_clerk"].regions.values_list("code", flat=True)) == ["659004"]
    assert staff["js_super"].groups.get().name == "审核"
    assert staff["admin"].is_superuser

    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="32010219750312123X", password=CITIZEN_PASSWORD)
    assert authenticate(request, username="js_clerk", password=STAFF_PASSWORD)

    before = _state()
    call_command("seed_demo")
    call_command("seed_demo", "--if-empty")
    assert _state() == before


def test_the_demo_premiums_reach_the_year_after_today():
    """docs/demo.md, Dates: dates that must stay payable move with today (issue 13)."""
    from accounts.demo import premiums

    today = [(code, year) for code, year, _v in premiums(dt.date(2026, 12, 2))]
    assert today == [("659004", 2025), ("659004", 2026), ("659004", 2027),
                     ("320100", 2027), ("320200", 2027)]  # fmt: skip
    later = {(code, year): v for code, year, v in premiums(dt.date(2028, 10, 1))}
    assert later[("659004", 2029)]["collection_start"] == dt.date(2028, 8, 26)
    assert later[("320100", 2029)]["collection_end"] == dt.date(2028, 12, 31)
    assert later[("659004", 2025)]["benefit_end"] == dt.date(2025, 12, 31)  # the seed's own row
