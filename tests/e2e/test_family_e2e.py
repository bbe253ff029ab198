"""Family mutual aid in a browser: the bind wizard (a child under 16 active at once, a parent over
16 waiting for consent given in the parent's own login), the deduction order and a revoke."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from accounts import services as account_services
from accounts.demo import CITIZEN_PASSWORD
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from family.models import Authorization, CommitmentLetter
from tests.factories import citizen_activate, make_id_number

from .conftest import check_page

pytestmark = pytest.mark.e2e

ZHANG_WEI = "320105198207073177"
MA_ZHIQIANG = "659004198303221312"


def _login(page, base, number, password=CITIZEN_PASSWORD):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("身份证号码").fill(number)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")


@pytest.fixture
def zhang_relatives(live_demo):
    """张伟's son (9, never logs in) and father (71, has an online account)."""
    region = RegionPolicy.objects.get(code="320100")
    made = {}
    for name, birth, seq, phone in [
        ("张小宝", dt.date(2017, 5, 1), 11, "13900000001"),
        ("张国庆", dt.date(1955, 10, 1), 13, "13900000002"),
    ]:
        made[name] = account_services.insured_person_register(
            name=name,
            id_number=make_id_number("320100", birth, seq=seq),
            phone=phone,
            region=region,
            scheme=InsuredPerson.Scheme.RESIDENT,
            actor=None,
            channel=AuditEntry.Channel.SYSTEM,
        )
    citizen_activate(
        id_number=made["张国庆"].id_number,
        name="张国庆",
        phone="13900000002",
        password=CITIZEN_PASSWORD,
    )
    return made


def _draw_signature(page):
    pad = page.locator("canvas").first
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 15, box["y"] + box["height"] / 2 + (-1) ** step * 20)
    page.mouse.up()


def test_bind_wizard_child_active_at_once_and_parent_consents(
    phone, desktop, live_demo, zhang_relatives
):
    base = live_demo.url
    son, father = zhang_relatives["张小宝"], zhang_relatives["张国庆"]

    _login(phone, base, ZHANG_WEI)
    phone.goto(f"{base}/family/")
    check_page(phone, "family-overview-empty-phone")
    phone.get_by_role("link", name="添加家庭成员").first.click()
    phone.wait_for_load_state("networkidle")

    phone.get_by_label("与您的关系").select_option(label="子女")
    phone.get_by_label("姓名").fill("张小宝")
    phone.get_by_label("身份证号码").fill(son.id_number)
    phone.get_by_role("button", name="添加一人").click()
    phone.wait_for_load_state("networkidle")
    phone.get_by_label("与您的关系").nth(1).select_option(label="父母")
    phone.get_by_label("姓名").nth(1).fill("张国庆")
    wrong = father.id_number[:-1] + ("1" if father.id_number[-1] != "1" else "2")
    phone.get_by_label("身份证号码").nth(1).fill(wrong)  # wrong check digit
    phone.get_by_role("button", name="下一步：核对承诺书").click()
    phone.wait_for_load_state("networkidle")
    expect(phone.get_by_text("身份证号码校验位不正确，请核对后重新输入")).to_be_visible()
    check_page(phone, "family-bind-error-phone")

    phone.get_by_label("身份证号码").nth(1).fill(father.id_number)
    phone.get_by_role("button", name="下一步：核对承诺书").click()
    phone.wait_for_load_state("networkidle")
    expect(phone.get_by_role("heading", name="核对承诺书")).to_be_visible()
    expect(phone.get_by_text("张小宝（子女").first).to_be_visible()
    check_page(phone, "family-bind-review-phone")
    phone.get_by_role("link", name="已阅读，下一步：签署").click()
    phone.wait_for_load_state("networkidle")
    _draw_signature(phone)
    phone.get_by_label("签名：请输入您的姓名").fill("张伟")
    check_page(phone, "family-bind-sign-phone")
    phone.get_by_role("button", name="签署承诺书并提交").click()
    phone.wait_for_load_state("networkidle")
    check_page(phone, "family-letter-phone")

    letter = CommitmentLetter.objects.get(holder__name="张伟")
    assert letter.signature_image.startswith("data:image/png;base64,")
    expect(phone.get_by_text(letter.verification_code).first).to_be_visible()
    child = Authorization.objects.get(member=son)
    parent = Authorization.objects.get(member=father)
    assert child.status == Authorization.Status.ACTIVE  # R8: under 16, active at once
    assert parent.status == Authorization.Status.PENDING_CONSENT  # R8: from 16, waits

    # The father answers in his own login, re-entering his password.
    _login(desktop, base, father.id_number)
    desktop.goto(f"{base}/family/consents/")
    check_page(desktop, "family-consents-desktop")
    desktop.get_by_role("link", name="查看并答复").first.click()
    desktop.wait_for_load_state("networkidle")
    desktop.get_by_label("登录密码").fill("wrong-password")
    desktop.get_by_role("button", name="同意").click()
    desktop.wait_for_load_state("networkidle")
    expect(desktop.get_by_text("身份核验未通过，密码错误")).to_be_visible()
    parent.refresh_from_db()
    assert parent.status == Authorization.Status.PENDING_CONSENT
    desktop.get_by_label("登录密码").fill(CITIZEN_PASSWORD)
    check_page(desktop, "family-consent-answer-desktop")
    desktop.get_by_role("button", name="同意").click()
    desktop.wait_for_load_state("networkidle")
    parent.refresh_from_db()
    assert parent.status == Authorization.Status.ACTIVE

    # The holder sees both active and revokes the child, with a confirmation step.
    phone.goto(f"{base}/family/")
    check_page(phone, "family-overview-holder-phone")
    phone.goto(f"{base}/family/authorizations/{child.public_id}/revoke/")
    check_page(phone, "family-revoke-confirm-phone")
    phone.get_by_role("button", name="确认解除").click()
    phone.wait_for_load_state("networkidle")
    child.refresh_from_db()
    assert child.status == Authorization.Status.REVOKED
    check_page(phone, "family-overview-after-revoke-phone")


def test_deduction_order_for_a_minor_set_by_a_holder(phone, live_demo):
    """R10: 马小燕 is a minor; her father moves her mother's account up, without JavaScript."""
    base = live_demo.url
    xiaoyan = InsuredPerson.objects.get(name="马小燕")
    _login(phone, base, MA_ZHIQIANG)
    phone.goto(f"{base}/family/order/{xiaoyan.public_id}/")
    check_page(phone, "family-order-phone")
    phone.get_by_role("button", name="上移 古丽娜").click()
    phone.wait_for_load_state("networkidle")
    order = list(
        Authorization.objects.filter(member=xiaoyan, status="active")
        .order_by("deduction_position")
        .values_list("holder__name", flat=True)
    )
    assert order == ["古丽娜", "马志强"]
    check_page(phone, "family-order-after-move-phone")
