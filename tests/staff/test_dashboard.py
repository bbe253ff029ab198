"""The staff dashboard (issue 6 point 4): figures made by the real services, region scope, the
SVG charts with their tables, money formatting, access and a constant number of queries."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry
from family import services as family_services
from family.models import Relation
from payments import services as payments_services
from payments.charts import bar_chart, column_chart, money
from payments.forms.dashboard import ALL_MY_REGIONS
from payments.models import Institution
from payments.selectors.dashboard import dashboard_for_staff
from payments.views.dashboard import REGION_NOT_YOURS
from tests.clock import NOW, SHANGHAI

DASHBOARD = reverse("staff:dashboard")
ONLINE = AuditEntry.Channel.ONLINE
_keys = itertools.count(1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    """The page's "today" is the local date: tests run at a fixed instant."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def institutions(demo):
    return {i.code: i for i in Institution.objects.all()}


def board(user, **kwargs):
    return dashboard_for_staff(user=user, today=NOW.date(), **kwargs)


def open_page(client, user, **params):
    client.force_login(user)
    response = client.get(DASHBOARD, params)
    assert response.status_code == 200
    return response


def settle(institution, patient, amount, *, category="outpatient", at=None):
    at = at or dt.datetime.now(SHANGHAI)
    settlement, _created = payments_services.settlement_create(
        institution=institution,
        patient=patient,
        category=category,
        amount=Decimal(amount),
        occurred_at=at,
        items=[],
        idempotency_key=f"dash-{next(_keys)}",
        request_hash="b",
        at=at,
    )
    return settlement


def refund(settlement, amount):
    payments_services.settlement_refund(
        settlement=settlement,
        amount=Decimal(amount),
        idempotency_key=f"dash-refund-{next(_keys)}",
        request_hash="r",
    )


def bind_daughter(demo):
    """王建国 binds 王丽 (over 16: she must consent, R8) online, today."""
    wang = demo["王建国"]
    return family_services.relationship_bind(
        holder=wang,
        members=[family_services.MemberRequest(demo["王丽"], Relation.CHILD, None, None)],
        signature=family_services.Signature(name=wang.name),
        actor=wang.user,
        channel=ONLINE,
    )


def month_money(b, month: dt.date):
    return dict(b.spending_per_month)[month]


def category_money(b, category: str):
    return {c: m for c, _label, m in b.spending_per_category}[category]


# --- access -----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_staff_login(client, demo):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_citizen_gets_403(client, demo):
    client.force_login(demo["王建国"].user)
    assert client.get(DASHBOARD).status_code == 403


@pytest.mark.parametrize("username", ["js_clerk", "js_super", "xj_clerk", "admin"])
def test_every_staff_role_sees_the_dashboard(client, demo, clock, username):
    response = open_page(client, demo.staff[username])
    assert response.context["board"] is not None
    assert 'aria-current="page"' in response.content.decode()


# --- the demo's figures and region scope --------------------------------------------------------


def test_demo_figures_per_region(demo, clock):
    js = board(demo.staff["js_clerk"])
    assert js.active_relationships == 1  # 王建国
    assert js.authorizations == [
        ("active", "已授权", 2),  # 王小明, 王德胜
        ("scheduled", "待生效", 0),
        ("pending_consent", "待成员确认", 0),
    ]
    xj = board(demo.staff["xj_clerk"])
    assert xj.active_relationships == 2  # 马志强, 古丽娜
    assert xj.live_authorizations == 2  # both bind 马小燕
    everything = board(demo.staff["admin"])
    assert everything.active_relationships == 3
    assert everything.live_authorizations == 4
    # The demo bound on 2024-12-31: nothing in the last 30 days.
    assert everything.bindings_total == 0
    assert len(everything.bindings_per_day) == 30
    assert everything.bindings_per_day[-1] == (NOW.date(), 0)


def test_binding_one_more_member_shows_in_bindings_and_pending_consents(demo, clock):
    before = board(demo.staff["js_clerk"])
    bind_daughter(demo)
    after = board(demo.staff["js_clerk"])
    assert after.consents_pending == before.consents_pending + 1
    assert after.live_authorizations == before.live_authorizations + 1
    assert after.active_relationships == before.active_relationships  # added to his own
    assert after.bindings_per_day[-1] == (NOW.date(), 1)
    assert after.bindings_total == 1
    # Not a figure of Xinjiang.
    assert board(demo.staff["xj_clerk"]).bindings_total == 0

    # She agrees: no longer pending; active from now.
    authorization = demo["王丽"].authorizations_received.get(status="pending_consent")
    family_services.authorization_answer(
        authorization=authorization,
        agree=True,
        actor=demo["王丽"].user,
        evidence=CITIZEN_PASSWORD,
    )
    answered = board(demo.staff["js_clerk"])
    assert answered.consents_pending == 0
    assert answered.bindings_total == 1  # a binding stays counted on its day


def test_mutual_aid_spending_by_month_and_category_net_of_refunds(demo, clock, institutions):
    month = NOW.date().replace(day=1)
    xiaoming = demo["王小明"]  # resident: 王建国's account pays it all (R9)
    paid = settle(institutions["JS-HOSP-001"], xiaoming, "1234.50")
    settle(institutions["JS-PHARM-001"], xiaoming, "20.00", category="pharmacy_drug")
    refund(paid, "30.00")
    # Own account, not mutual aid: not counted.
    settle(institutions["JS-HOSP-001"], demo["张伟"], "80.00")
    # Xinjiang: 马志强 pays for 马小燕; a figure of 659004 only.
    settle(institutions["XJ-HOSP-001"], demo["马小燕"], "50.00")

    js = board(demo.staff["js_clerk"])
    assert month_money(js, month).paid == Decimal("1254.50")
    assert month_money(js, month).refunded == Decimal("30.00")
    assert month_money(js, month).net == Decimal("1224.50")
    assert category_money(js, "outpatient").net == Decimal("1204.50")
    assert category_money(js, "pharmacy_drug").net == Decimal("20.00")
    assert category_money(js, "vaccine").paid == Decimal("0.00")
    assert js.spending_total.net == Decimal("1224.50")
    assert [m for m, _money in js.spending_per_month][0] == dt.date(2025, 12, 1)

    xj = board(demo.staff["xj_clerk"])
    assert xj.spending_total.paid == Decimal("50.00")
    assert board(demo.staff["admin"]).spending_total.paid == Decimal("1304.50")


def test_spending_is_counted_in_the_local_month_of_the_care(demo, clock, institutions):
    # 2026-11-01 00:30 in Shanghai is still October in UTC.
    early = dt.datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI)
    settle(institutions["JS-HOSP-001"], demo["王小明"], "10.00", at=early)
    js = board(demo.staff["js_clerk"])
    assert month_money(js, dt.date(2026, 11, 1)).paid == Decimal("10.00")
    assert month_money(js, dt.date(2026, 10, 1)).paid == Decimal("0.00")


def test_premiums_on_behalf_per_year(demo, clock):
    wang, xiaoming = demo["王建国"], demo["王小明"]
    payments_services.premium_pay(
        holder=wang,
        member=xiaoming,
        year=2027,
        pay_type="personal",
        idempotency_key="dash-premium-1",
        commitment_agreed=True,
        actor=wang.user,
    )
    js = board(demo.staff["js_clerk"])
    assert [(p.year, p.payments, p.amount) for p in js.premiums_per_year] == [
        (2027, 1, Decimal("400.00"))
    ]
    assert board(demo.staff["xj_clerk"]).premiums_per_year == []


def test_the_region_filter_narrows_to_one_of_the_users_regions(client, demo, clock):
    admin = demo.staff["admin"]
    response = open_page(client, admin, region="659004")
    assert response.context["board"].active_relationships == 2
    assert response.context["region"].code == "659004"
    response = open_page(client, admin, region="320200")
    assert response.context["board"].active_relationships == 0

    response = open_page(client, demo.staff["js_clerk"])
    choices = [c for c, _label in response.context["form"].fields["region"].choices]
    assert choices == ["", "320100", "320200"]
    assert str(ALL_MY_REGIONS) in response.content.decode()


def test_another_regions_code_shows_a_message_and_no_figures(client, demo, clock):
    response = open_page(client, demo.staff["js_clerk"], region="659004")
    assert response.context["board"] is None
    content = response.content.decode()
    assert str(REGION_NOT_YOURS) in content
    assert "五家渠" not in content
    assert "<svg" not in content


# --- the page: charts, tables, money -------------------------------------------------------------


def test_charts_are_svg_with_a_title_and_a_table_beside_each(client, demo, clock, institutions):
    settle(institutions["JS-HOSP-001"], demo["王小明"], "1234.50")
    content = open_page(client, demo.staff["js_clerk"]).content.decode()
    svgs = re.findall(r"<svg[^>]*>", content)
    assert len(svgs) == 5
    assert all('role="img"' in s and "aria-labelledby=" in s for s in svgs)
    assert content.count("<title id=") == 5
    assert content.count("<caption") == 5
    assert 'scope="row"' in content and 'scope="col"' in content
    assert "1,234.50" in content  # money with two places and thousands
    assert "<script" not in content.split("<main", 1)[-1].split("</main>")[0]


def test_money_and_chart_geometry():
    assert money(Decimal("1234.5")) == "1,234.50"
    assert money(Decimal("0")) == "0.00"
    chart = column_chart(title="t", points=[("a", 5), ("b", 0), ("c", 10)], label_every=2)
    assert chart.axis_top == "刻度最高 10"
    assert [c.height for c in chart.columns] == [83.0, 0.0, 166.0]
    assert chart.columns[2].y == chart.plot_top
    assert [c.label for c in chart.columns] == ["a", "", "c"]  # counted from the newest
    assert chart.desc == "共3项，合计15；最高：c，10"
    empty = bar_chart(title="t", points=[("a", Decimal("0.00"))], fmt=money, unit="元")
    assert empty.empty and empty.bars[0].width == "0.00%"
    assert empty.bars[0].value_text == "0.00元"
    assert empty.desc == "共1项，均为0"


# --- query counts (acceptance: a constant number whatever the data) ------------------------------

# session, user, the user's permissions (2), the user's regions, the regions to filter by, and
# the six figures: relationships, authorizations by status, bindings per day, mutual aid paid,
# refunded, premiums per year.
DASHBOARD_QUERIES = 12


def test_the_dashboard_runs_the_same_queries_with_little_and_with_much_data(
    client, demo, clock, institutions, django_assert_num_queries
):
    client.force_login(demo.staff["js_clerk"])
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get(DASHBOARD).status_code == 200

    bind_daughter(demo)
    categories = ["outpatient", "inpatient", "pharmacy_drug", "vaccine", "maternity"]
    for i in range(15):
        at = NOW - dt.timedelta(days=29 * (i % 10) + 1)
        s = settle(
            institutions["JS-HOSP-001"], demo["王小明"], "12.00",
            category=categories[i % 5], at=at,
        )  # fmt: skip
        if i % 3 == 0:
            refund(s, "2.00")
    wang = demo["王建国"]
    payments_services.premium_pay(
        holder=wang, member=demo["王小明"], year=2027, pay_type="personal",
        idempotency_key="dash-premium-q", commitment_agreed=True, actor=wang.user,
    )  # fmt: skip

    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(DASHBOARD)
    assert response.context["board"].spending_total.paid == Decimal("180.00")
    assert response.context["board"].spending_total.refunded == Decimal("10.00")
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get(DASHBOARD, {"region": "320100"}).status_code == 200
