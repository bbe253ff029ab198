"""Browser checks of the staff audit browser and dashboard (issue 6 points 3 and 4): at 1280 px
and 390 px, screenshots, axe-core, nothing wider than the screen but the scrolling boxes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.demo import STAFF_PASSWORD
from accounts.models import InsuredPerson
from payments import services as payments_services
from payments.models import Institution

from .conftest import check_page

pytestmark = pytest.mark.e2e


def staff_login(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state("networkidle")


def page_overflows(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")


def some_spending() -> None:
    xiaoming = InsuredPerson.objects.get(name="王小明")
    hospital = Institution.objects.get(code="JS-HOSP-001")
    now = dt.datetime.now(dt.UTC)
    for i, amount in enumerate(["1234.50", "88.00", "12.30"]):
        at = now - dt.timedelta(days=40 * i)
        payments_services.settlement_create(
            institution=hospital,
            patient=xiaoming,
            category=["outpatient", "inpatient", "outpatient"][i],
            amount=Decimal(amount),
            occurred_at=at,
            items=[],
            idempotency_key=f"e2e-dash-{i}",
            request_hash="b",
            at=at,
        )


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_dashboard_renders_at_desktop_and_phone_widths(request, live_demo, device):
    page = request.getfixturevalue(device)
    some_spending()
    staff_login(page, live_demo.url, "js_super")
    page.goto(f"{live_demo.url}/staff/dashboard/")
    expect(page.get_by_role("heading", name="统计看板")).to_be_visible()
    assert page.locator("svg[role=img]").count() == 5
    expect(page.locator("td", has_text="1,234.50").first).to_be_visible()
    assert not page_overflows(page)
    check_page(page, f"staff-dashboard-{device}")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_audit_browser_renders_and_filters(request, live_demo, device):
    page = request.getfixturevalue(device)
    staff_login(page, live_demo.url, "js_super")
    page.goto(f"{live_demo.url}/staff/audit/")
    expect(page.get_by_role("heading", name="审计记录")).to_be_visible()
    assert not page_overflows(page)
    check_page(page, f"staff-audit-{device}")
    page.get_by_label("参保人").fill("32010219750312123")  # one digit short
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("筛选条件有误")).to_be_visible()
    check_page(page, f"staff-audit-invalid-{device}")
