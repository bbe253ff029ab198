"""个账代缴 in a browser (issue 4 point 5, R16), the Wujiaqu example: 马志强 pays 400.00 for his
daughter 马小燕 — for 2027 inside its collection period (2026-08-26–2026-12-20), then for 2025
late (the server clock travelled to 2025-03-10), with the 3-month wait shown before he confirms
and on the receipt (benefits from 2025-06-10). Phone width; every page screenshot and audited
with axe-core (`check_page`).

time-machine patches the clock of the whole process, the live server's thread included. The
browser keeps its own clock: the session cookie set on 2026-11-23 must still be sent, and the
cookies the travelled server sets (their Expires computed in 2025) must still be kept (Max-Age
wins), so the citizen stays logged in across the jump."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from accounts.demo import CITIZEN_PASSWORD
from payments.forms.premium import PAY_TYPE_HELP
from payments.models import LedgerAccount, PremiumPayment

from .conftest import SHOTS, check_page

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
IN_PERIOD = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # 2027 collection period open
LATE = dt.datetime(2025, 3, 10, 10, 0, tzinfo=SHANGHAI)  # after 2024-12-20: late for 2025
MA_ZHIQIANG = "659004198303221312"
PERSONAL = str(PAY_TYPE_HELP[PremiumPayment.PayType.PERSONAL])
FAMILY = str(PAY_TYPE_HELP[PremiumPayment.PayType.FAMILY])


def _login(page, base, number, password=CITIZEN_PASSWORD):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("身份证号码").fill(number)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")


def _open(page, role, name):
    page.get_by_role(role, name=name).click()
    page.wait_for_load_state("networkidle")


def _pay(page, base, *, year: str, pay_type: str, shot_prefix: str):
    """From 我的代缴记录 to the receipt: choose, read and confirm the letter, check, confirm."""
    page.goto(f"{base}/payments/premium/")
    _open(page, "link", "办理个账代缴")
    page.get_by_label("马小燕（6590**********2644）· 子女").check()
    page.get_by_label("缴费年度").select_option(year)
    page.get_by_label(pay_type).check()
    check_page(page, f"{shot_prefix}-form-phone")
    _open(page, "button", "下一步：阅读代缴承诺书")

    expect(page.get_by_role("heading", name="代缴承诺书", exact=True)).to_be_visible()
    expect(page.get_by_text("税务缴费APP")).to_be_visible()
    # the letter must be confirmed: without the tick the browser keeps the citizen here
    page.get_by_role("button", name="下一步：代缴信息校验").click()
    assert "/payments/premium/letter/" in page.url
    page.get_by_label("本人已阅读并同意以上承诺").check()
    check_page(page, f"{shot_prefix}-letter-phone")
    _open(page, "button", "下一步：代缴信息校验")

    expect(page.get_by_role("heading", name="代缴信息校验", exact=True)).to_be_visible()
    expect(page.get_by_text("校验结果：全部通过")).to_be_visible()
    check_page(page, f"{shot_prefix}-check-phone")


def test_premium_on_time_then_late_with_the_waiting_period(phone, live_demo, time_machine):
    base = live_demo.url
    time_machine.move_to(IN_PERIOD, tick=True)
    _login(phone, base, MA_ZHIQIANG)
    phone.get_by_role("button", name="展开菜单").click()
    _open(phone, "link", "个账代缴")  # the nav link
    check_page(phone, "premium-list-empty-phone")

    # ---- 2027, inside the collection period: on time, the whole benefit year
    _pay(phone, base, year="2027", pay_type=PERSONAL, shot_prefix="premium-2027")
    expect(phone.get_by_text("在集中缴费期（2026-08-26至2026-12-20）内缴费")).to_be_visible()
    assert phone.get_by_text("逾期缴费").count() == 0
    _open(phone, "button", "确认缴费 400.00 元")
    expect(phone.get_by_role("heading", name="缴费凭证", exact=True)).to_be_visible()
    assert phone.get_by_text(
        "缴费成功：已为马小燕缴纳2027年度城乡居民医保保费400.00元。"
    ).is_visible()
    expect(phone.get_by_text("按期缴费（集中缴费期内）")).to_be_visible()
    expect(phone.get_by_text("2027-01-01 至 2027-12-31")).to_be_visible()
    check_page(phone, "premium-2027-receipt-phone")
    with phone.expect_download() as download:
        phone.get_by_role("link", name="下载缴费证明（PDF）").click()
    proof = download.value
    assert proof.suggested_filename.endswith(".pdf")
    proof.save_as(SHOTS / "premium-2027-proof-download.pdf")
    assert (SHOTS / "premium-2027-proof-download.pdf").read_bytes().startswith(b"%PDF-")

    # ---- back to 2025-03-10: late for 2025, with the 3-month wait
    time_machine.move_to(LATE, tick=True)
    _pay(phone, base, year="2025", pay_type=FAMILY, shot_prefix="premium-2025-late")
    # the session made on 2026-11-23 still works on the travelled server
    assert "/accounts/login/" not in phone.url
    expect(phone.get_by_text("! 通过（请注意）")).to_be_visible()
    expect(phone.get_by_text("逾期缴费：有待遇等待期")).to_be_visible()
    expect(phone.get_by_text("2025-06-10 起方可享受医保待遇")).to_be_visible()
    _open(phone, "button", "确认缴费 400.00 元")
    expect(phone.get_by_text("逾期缴费（集中缴费期后），待遇等待期 3 个月")).to_be_visible()
    expect(phone.get_by_text("2025-06-10 至 2025-12-31")).to_be_visible()
    check_page(phone, "premium-2025-late-receipt-phone")

    # a reload of the receipt and a second visit to the check page pay nothing more
    phone.go_back()
    phone.wait_for_load_state("networkidle")
    phone.reload()
    phone.wait_for_load_state("networkidle")
    assert PremiumPayment.objects.count() == 2
    late = PremiumPayment.objects.get(year=2025)
    assert late.late and late.benefit_start == dt.date(2025, 6, 10)
    assert late.pay_type == PremiumPayment.PayType.FAMILY
    assert LedgerAccount.objects.get(person__name="马志强").balance == Decimal("400.00")
    assert LedgerAccount.objects.get(person__name="古丽娜").balance == Decimal("800.00")

    phone.goto(f"{base}/payments/premium/")
    phone.wait_for_load_state("networkidle")
    expect(phone.get_by_role("link", name="查看2025年度缴费凭证")).to_be_visible()
    expect(phone.get_by_role("link", name="查看2027年度缴费凭证")).to_be_visible()
    check_page(phone, "premium-list-phone")
