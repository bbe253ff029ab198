"""医保钱包 in a browser (issue 15, R23-R25): 王建国 (南京, whose policy offers the wallet)
opens his wallet after confirming his insured place and masked phone, then closes it, at phone
width; the overview is also looked at on a desktop. Then the transfer: his mother 王秀兰 opens her
wallet on her phone, he sends her 500.00 with his password from his desk, she accepts it, and
her overview says who owes it. HZ-HOSP-001 in 杭州 settles 300.00 from her wallet through the
signed API and refunds 100.00 to it; the night after, the clearing shows 南京 owing 杭州 200.00
and js_super confirms 南京's side. Every page is screenshot and audited with
axe-core and the Content-Security-Policy listener (`check_page`)."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry
from tests.clock import NOW, SHANGHAI
from tests.payments.test_api import call
from wallet.models import ClearingBatch, Transfer, Wallet
from wallet.tasks import clearing_run

from .conftest import check_page
from .conftest import staff_login as _staff_login

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


WANG_XIULAN = "330102195004182022"
# a Monday morning, Asia/Shanghai: transfers are open (none 22:00-06:00, R24)
DAYTIME = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def test_a_son_transfers_500_to_his_mothers_wallet_and_she_accepts(
    phone, desktop, live_demo, demo_transactional, time_machine
):  # R24, R25
    time_machine.move_to(DAYTIME, tick=True)
    base = live_demo.url
    wang, mother = demo_transactional["王建国"], demo_transactional["王秀兰"]

    # 王秀兰, on her phone, opens her wallet
    _login(phone, base, WANG_XIULAN)
    phone.goto(f"{base}/wallet/")
    _click(phone, "link", "确认使用钱包")
    phone.get_by_label("我确认参保地为浙江省杭州市（330100）").check()
    phone.get_by_label(f"我确认手机号码为{mother.masked_phone}").check()
    _click(phone, "button", "确认使用钱包")
    expect(phone.get_by_text("您已开通医保钱包")).to_be_visible()
    # a resident has no personal account to send from: no send button, and why
    expect(phone.get_by_role("link", name="申请转账")).to_have_count(0)
    check_page(phone, "wallet-overview-resident-phone")

    # 王建国, at his desk, sends 500.00 with his password
    _login(desktop, base, WANG_JIANGUO)
    desktop.goto(f"{base}/wallet/")
    _click(desktop, "link", "申请转账")
    expect(desktop.get_by_role("heading", name="医保钱包转账申请")).to_be_visible()
    desktop.get_by_label("对方是您的").select_option(label="父母")
    desktop.get_by_label("对方姓名").fill("王秀兰")
    desktop.get_by_label("对方身份证号码").fill(WANG_XIULAN)
    desktop.get_by_label("转账金额（元）").fill("500.00")
    check_page(desktop, "wallet-transfer-send-desktop")
    _click(desktop, "button", "下一步：核对信息")
    expect(desktop.get_by_role("heading", name="核对转账信息")).to_be_visible()
    expect(desktop.get_by_text("王*兰（父母）")).to_be_visible()
    expect(desktop.get_by_text("浙江省杭州市")).to_be_visible()
    expect(desktop.get_by_text("2026-11-24 06:00", exact=True)).to_be_visible()
    desktop.get_by_label("登录密码").fill(CITIZEN_PASSWORD)
    check_page(desktop, "wallet-transfer-confirm-desktop")
    _click(desktop, "button", "确认转出500.00元")
    expect(desktop.get_by_text("已向王*兰转出500.00元，等待对方接收。")).to_be_visible()
    expect(desktop.get_by_text("待接收", exact=True)).to_be_visible()
    check_page(desktop, "wallet-transfer-sent-desktop")
    transfer = Transfer.objects.get()
    assert transfer.status == Transfer.Status.PENDING and transfer.wallet.person == mother

    # she finds it in her inbox and on her transfers page, and accepts
    phone.goto(f"{base}/accounts/inbox/")
    expect(phone.get_by_text("医保钱包转账待接收").first).to_be_visible()
    phone.goto(f"{base}/wallet/transfers/")
    expect(phone.get_by_text("王*国转给我")).to_be_visible()
    check_page(phone, "wallet-transfers-phone")
    phone.get_by_role("link", name="接收或拒收").first.click()
    phone.wait_for_load_state("networkidle")
    expect(phone.get_by_text("请在2026-11-24 06:00前处理", exact=False)).to_be_visible()
    check_page(phone, "wallet-transfer-answer-phone")
    _click(phone, "button", "接收500.00元，存入我的医保钱包")
    expect(phone.get_by_text("已接收500.00元，已存入您的医保钱包。")).to_be_visible()

    _click(phone, "link", "钱包概览")
    expect(phone.get_by_text("资金所属地：江苏省南京市，500.00 元")).to_be_visible()
    expect(phone.get_by_text("500.00 元", exact=True)).to_be_visible()
    check_page(phone, "wallet-overview-received-phone")
    _click(phone, "link", "钱包明细")
    expect(phone.get_by_text("转账入账 王*国")).to_be_visible()
    check_page(phone, "wallet-history-phone")

    # his statement shows the 500.00 out
    desktop.goto(f"{base}/payments/statement/")
    expect(desktop.get_by_text("医保钱包转账 转给王*兰")).to_be_visible()
    expect(desktop.get_by_text("−500.00")).to_be_visible()
    check_page(desktop, "wallet-statement-desktop")
    assert Wallet.objects.get(person=mother).balance == 500
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.ACCEPTED and transfer.sender == wang

    # HZ-HOSP-001 (杭州) settles 300.00 through the signed API: paid from her wallet (R26)
    answer = _api(
        "/api/v1/settlements",
        {
            "patient_id_number": WANG_XIULAN,
            "category": "outpatient",
            "amount": "300.00",
            "occurred_at": DAYTIME.isoformat(),
            "items": [{"name": "门诊诊查费", "amount": "300.00"}],
        },
    )
    assert answer["lines"] == [{"payer": "王*兰", "source": "wallet", "amount": "300.00"}]
    assert answer["cash_due"] == "0.00"
    # and refunds 100.00, which returns to the wallet it came from
    _api(f"/api/v1/settlements/{answer['id']}/refunds", {"amount": "100.00"})
    assert Wallet.objects.get(person=mother).balance == 300

    phone.goto(f"{base}/wallet/history/")
    expect(phone.get_by_text("杭州市第一人民医院 就医购药")).to_be_visible()
    expect(phone.get_by_text("杭州市第一人民医院 退款")).to_be_visible()
    check_page(phone, "wallet-history-spent-phone")

    # the night after, the clearing run (what beat starts at 01:00) nets 南京 owing 杭州 200.00
    time_machine.move_to(DAYTIME + dt.timedelta(days=1, hours=-8), tick=True)  # 02:00 next day
    assert clearing_run() == 1
    _staff_login(desktop, base, "js_super")
    desktop.goto(f"{base}/staff/clearing/")
    expect(desktop.get_by_text("欠浙江省杭州市 200.00 元")).to_be_visible()
    check_page(desktop, "wallet-clearing-desktop")
    desktop.get_by_role("link", name="2026-11-23").click()
    desktop.wait_for_load_state("networkidle")
    expect(desktop.get_by_role("heading", name="江苏省南京市应付浙江省杭州市")).to_be_visible()
    check_page(desktop, "wallet-clearing-batch-desktop")
    _click(desktop, "button", "以应付方确认")
    expect(desktop.get_by_text("已确认本方清算批次")).to_be_visible()
    batch = ClearingBatch.objects.get()
    assert batch.amount == 200 and batch.payer_confirmed_by.username == "js_super"


def _api(path: str, payload: dict) -> dict:
    """A signed POST of HZ-HOSP-001, as the hospital's system sends it (the API is not a page:
    the test client carries it, signed exactly as the README says)."""
    skew = int((timezone.now() - NOW).total_seconds())  # the signature's clock is NOW's
    response = call("POST", path, payload, code="HZ-HOSP-001", skew=skew)
    assert response.status_code == 201, response.content
    return response.json()
