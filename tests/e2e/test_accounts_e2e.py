"""A citizen's first steps: activate, log in, see the home page, get locked out, switch language."""

import json
import re

import pytest
from playwright.sync_api import expect

from accounts.demo import CITIZEN_PASSWORD
from accounts.models import InsuredPerson

from .conftest import check_page

pytestmark = pytest.mark.e2e


def _login(page, base, number, password):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("身份证号码").fill(number)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")


def _code_from_sms_file(path, phone_number: str) -> str:
    """The code in the last message the file backend wrote for this phone."""
    messages = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    text = [m["text"] for m in messages if m["phone"] == phone_number][-1]
    return re.search(r"(?<![0-9])([0-9]{6})(?![0-9])", text).group(1)


def test_activation_on_a_phone(phone, live_demo, settings, tmp_path):
    settings.SMS_BACKEND = "accounts.sms.FileBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms.jsonl"
    base = live_demo.url
    phone.goto(base + "/")
    check_page(phone, "anonymous-home-phone")
    phone.get_by_role("link", name="首次使用：激活账号").click()
    check_page(phone, "activate-phone")
    phone.get_by_label("身份证号码").fill("320211198004192223")  # wrong check digit
    phone.get_by_label("姓名").fill("周芳")
    phone.get_by_label("手机号码").fill("13800000006")
    phone.get_by_role("button", name="获取短信验证码").click()
    expect(phone.get_by_text("身份证号码校验位不正确，请核对后重新输入")).to_be_visible()
    check_page(phone, "activate-error-phone")
    assert not settings.SMS_FILE_PATH.exists()  # nothing sent

    # Step 1: the code goes to the registered phone, shown masked.
    phone.get_by_label("身份证号码").fill("320211198004192224")
    phone.get_by_role("button", name="获取短信验证码").click()
    expect(phone.get_by_role("heading", name="输入短信验证码，设置密码")).to_be_visible()
    expect(phone.get_by_text("138****0006")).to_be_visible()
    assert "320211198004192224" not in phone.url
    code_field = phone.get_by_label("短信验证码")
    assert code_field.get_attribute("autocomplete") == "one-time-code"
    assert code_field.get_attribute("inputmode") == "numeric"
    check_page(phone, "activate-code-phone")
    code = _code_from_sms_file(settings.SMS_FILE_PATH, "13800000006")
    assert InsuredPerson.objects.get(name="周芳").user_id is None

    # Step 2: a wrong code says how many tries are left; the right one activates.
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    code_field.fill(wrong)
    phone.get_by_label("设置密码").fill("Zhoufang-2026!")
    phone.get_by_label("确认密码").fill("Zhoufang-2026!")
    phone.get_by_role("button", name="激活并设置密码").click()
    expect(phone.get_by_text("验证码不正确，还可以再输入4次")).to_be_visible()
    check_page(phone, "activate-code-error-phone")
    assert InsuredPerson.objects.get(name="周芳").user_id is None

    phone.get_by_label("短信验证码").fill(code)
    phone.get_by_label("设置密码").fill("Zhoufang-2026!")
    phone.get_by_label("确认密码").fill("Zhoufang-2026!")
    phone.get_by_role("button", name="激活并设置密码").click()
    phone.wait_for_load_state("networkidle")
    expect(phone.get_by_role("heading", name="您好，周芳")).to_be_visible()
    expect(phone.get_by_text("3202**********2224")).to_be_visible()
    check_page(phone, "activated-home-phone")
    assert InsuredPerson.objects.get(name="周芳").user_id is not None


def test_resend_on_a_phone_says_when_to_retry(phone, live_demo, settings, tmp_path):
    settings.SMS_BACKEND = "accounts.sms.FileBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms.jsonl"
    phone.goto(f"{live_demo.url}/accounts/activate/")
    phone.get_by_label("身份证号码").fill("65900420080801153X")
    phone.get_by_label("姓名").fill("马俊")
    phone.get_by_label("手机号码").fill("13800000013")
    phone.get_by_role("button", name="获取短信验证码").click()
    expect(phone.get_by_text("138****0013")).to_be_visible()
    phone.get_by_role("button", name="重新获取验证码").click()
    expect(phone.get_by_text(re.compile(r"验证码已发送，请\d+秒后再重新获取"))).to_be_visible()
    check_page(phone, "activate-resend-too-soon-phone")
    assert len(settings.SMS_FILE_PATH.read_text(encoding="utf-8").splitlines()) == 1


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_login_shows_the_home_page_in_chinese(request, device, live_demo):
    page = request.getfixturevalue(device)
    _login(page, live_demo.url, "32010219750312123x", CITIZEN_PASSWORD)
    expect(page.get_by_role("heading", name="您好，王建国")).to_be_visible()
    card = page.get_by_role("region", name="我的参保信息")
    for text in ["3201**********123X", "职工医保", "正常参保", "南京市（江苏省）"]:
        assert card.get_by_text(text).is_visible(), text
    assert "32010219750312123X" not in page.content()
    check_page(page, f"home-{device}")


def test_login_page_and_lockout_message(phone, live_demo):
    base = live_demo.url
    phone.goto(f"{base}/accounts/login/")
    check_page(phone, "login-phone")
    for attempt in range(5):
        _login(phone, base, "320104197708252463", f"wrong-{attempt}")
        expect(phone.get_by_text("身份证号码或密码错误")).to_be_visible()
    check_page(phone, "login-error-phone")
    _login(phone, base, "320104197708252463", "wrong-6")
    expect(phone.get_by_role("heading", name="账号已锁定")).to_be_visible()
    expect(phone.get_by_text("密码输错次数过多，账号已被锁定30分钟")).to_be_visible()
    check_page(phone, "locked-out-phone")


def test_language_switch_on_a_phone(phone, live_demo):
    _login(phone, live_demo.url, "32010219750312123X", CITIZEN_PASSWORD)
    phone.get_by_role("button", name="展开菜单").click()
    expect(phone.locator("#nav-main")).to_have_class(re.compile(r"\bshow\b"))
    phone.get_by_role("button", name="English").click()
    # expect() waits for the new page: a click's navigation may not have begun when
    # wait_for_load_state returns on the old, idle page (seen under load).
    expect(phone.get_by_role("heading", name="My insurance details")).to_be_visible()
    check_page(phone, "home-english-phone")
    phone.get_by_role("button", name="Expand menu").click()
    # The menu opens with a height transition; a click while it is still "collapsing" can be
    # lost on a loaded machine, so wait until Bootstrap has finished showing it.
    expect(phone.locator("#nav-main")).to_have_class(re.compile(r"\bshow\b"))
    phone.get_by_role("button", name="中文").click()
    expect(phone.get_by_role("heading", name="我的参保信息")).to_be_visible()


def test_staff_reaches_the_admin_and_sees_masked_numbers(desktop, live_demo):
    base = live_demo.url
    desktop.goto(f"{base}/admin/")
    desktop.locator("#id_username").fill("js_clerk")
    desktop.locator("#id_password").fill("Staff-2025!")
    desktop.locator("input[type=submit]").click()
    desktop.goto(f"{base}/admin/accounts/insuredperson/")
    expect(desktop.get_by_text("3201**********123X")).to_be_visible()
    assert "32010219750312123X" not in desktop.content()
    desktop.wait_for_load_state("networkidle")
    from .conftest import shot

    shot(desktop, "admin-persons-desktop")
