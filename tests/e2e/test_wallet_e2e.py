"""医保钱包 in a browser (issue 15 point 1, R23): 王建国 (南京, whose policy offers the wallet)
opens his wallet after confirming his insured place and masked phone, then closes it, at phone
width; the overview is also looked at on a desktop. Every page is screenshot and audited with
axe-core and the Content-Security-Policy listener (`check_page`)."""

import pytest
from playwright.sync_api import expect

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry
from wallet.models import Wallet

from .conftest import check_page

pytestmark = pytest.mark.e2e

WANG_JIANGUO = "32010219750312123X"


def _login(page, base, number, password=CITIZEN_PASSWORD):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("身份证号码").fill(number)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")


def _click(page, role, name):
    page.get_by_role(role, name=name).click()
    page.wait_for_load_state("networkidle")


def test_a_nanjing_citizen_opens_then_closes_the_wallet(phone, live_demo, demo_transactional):
    base = live_demo.url
    wang = demo_transactional["王建国"]
    _login(phone, base, WANG_JIANGUO)
    phone.get_by_role("button", name="展开菜单").click()
    _click(phone, "link", "医保钱包")  # the nav link
    expect(phone.get_by_role("heading", name="医保钱包", exact=True)).to_be_visible()
    expect(phone.get_by_text("未开通")).to_be_visible()
    check_page(phone, "wallet-overview-new-phone")

    _click(phone, "link", "确认使用钱包")
    expect(phone.get_by_text("江苏省南京市（320100）").first).to_be_visible()
    masked = wang.masked_phone
    expect(phone.get_by_text(masked, exact=True)).to_be_visible()
    # both confirmations are required: without them the browser keeps the citizen here
    phone.get_by_role("button", name="确认使用钱包").click()
    assert phone.url.endswith("/wallet/open/")
    phone.get_by_label("我确认参保地为江苏省南京市（320100）").check()
    phone.get_by_label(f"我确认手机号码为{masked}").check()
    check_page(phone, "wallet-open-phone")
    _click(phone, "button", "确认使用钱包")

    expect(phone.get_by_text("您已开通医保钱包")).to_be_visible()
    expect(phone.get_by_text("已开通", exact=True)).to_be_visible()
    expect(phone.get_by_text("0.00 元")).to_be_visible()
    check_page(phone, "wallet-overview-open-phone")
    assert Wallet.objects.get(person=wang).is_open

    _click(phone, "link", "关闭钱包")
    expect(phone.get_by_role("heading", name="关闭医保钱包")).to_be_visible()
    check_page(phone, "wallet-close-phone")
    _click(phone, "button", "确认关闭钱包")
    expect(phone.get_by_text("您的医保钱包已关闭")).to_be_visible()
    expect(phone.get_by_text("已关闭", exact=True)).to_be_visible()
    check_page(phone, "wallet-overview-closed-phone")

    wallet = Wallet.objects.get(person=wang)
    assert wallet.status == Wallet.Status.CLOSED
    actions = list(
        AuditEntry.objects.filter(person=wang, action__startswith="wallet.")
        .order_by("pk")
        .values_list("action", "channel")
    )
    assert actions == [("wallet.open", "online"), ("wallet.close", "online")]


def test_the_wallet_overview_on_a_desktop(desktop, live_demo):  # R23
    base = live_demo.url
    _login(desktop, base, WANG_JIANGUO)
    _click(desktop, "link", "医保钱包")
    expect(desktop.get_by_role("link", name="确认使用钱包")).to_be_visible()
    check_page(desktop, "wallet-overview-desktop")
    _click(desktop, "link", "确认使用钱包")
    check_page(desktop, "wallet-open-desktop")
