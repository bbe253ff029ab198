"""Printable letters in a browser (issue 7): the holder opens the print view from the letter page
(A4 sheet, toolbar gone in print), and anyone checks a letter on a phone at /verify/<code>.
Screenshots in artifacts/screenshots/; axe-core on every page (tests/e2e/conftest.py)."""

import pytest
from playwright.sync_api import expect

from accounts.demo import CITIZEN_PASSWORD
from family.models import CommitmentLetter

from .conftest import check_page, shot

pytestmark = pytest.mark.e2e

WANG_JIANGUO = "32010219750312123X"


def _letter() -> CommitmentLetter:
    return CommitmentLetter.objects.filter(holder__name="王建国").order_by("-signed_at").first()


def test_the_holder_prints_a_letter_from_its_page(desktop, live_demo):
    page, base, letter = desktop, live_demo.url, _letter()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("身份证号码").fill(WANG_JIANGUO)
    page.get_by_label("密码").fill(CITIZEN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")

    page.goto(f"{base}/family/letters/{letter.public_id}/")
    expect(page.get_by_role("link", name="下载PDF")).to_be_visible()
    page.get_by_role("link", name="打印", exact=True).click()
    page.wait_for_load_state("networkidle")

    expect(page.get_by_role("heading", name="家庭关系承诺书")).to_be_visible()
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    assert page.locator("nav").count() == 0
    assert page.locator("p.member").count() == 2
    check_page(page, "letter-print-desktop")

    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="打印")).to_be_hidden()
    shot(page, "letter-print-as-printed")


def test_anyone_checks_a_letter_on_a_phone(phone, live_demo):
    page, letter = phone, _letter()

    page.goto(f"{live_demo.url}/verify/{letter.verification_code.lower()}")

    expect(page.get_by_role("heading", name="承诺书核验")).to_be_visible()
    expect(page.get_by_text("内容完整，未被篡改")).to_be_visible()
    expect(page.get_by_text("王*国")).to_be_visible()
    check_page(page, "letter-verify-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
