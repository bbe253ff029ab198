"""A whole counter binding in a browser (issue 6, R18): js_clerk finds 王建国, starts a counter
binding, adds three relatives (five members after binding, over 320100's threshold of four),
ticks the document checklist, prints the letter, is refused a renamed executable, uploads the
PDF scan and submits; js_super approves; the relationship is active with the counter letter.
Screenshots of every step are in artifacts/screenshots/staff-counter-*.png. And the wallet at the
counter (R23): js_clerk opens 王建国's wallet with his identity card seen
(artifacts/screenshots/staff-wallet-*.png)."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry, InsuredPerson
from family.models import Authorization, CommitmentLetter, CounterBinding, Relationship
from tests.staff.counter_helpers import pdf_bytes
from wallet.models import Wallet

from .conftest import check_page, shot
from .conftest import staff_login as _staff_login

pytestmark = pytest.mark.e2e

RELATIVES = [("李秀英", "配偶"), ("王丽", "子女"), ("周芳", "兄弟姐妹")]
EXECUTABLE = b"MZ\x90\x00" + b"\x00" * 200


@pytest.fixture
def scan_root(settings, tmp_path):
    settings.COUNTER_SCAN_ROOT = tmp_path / "scans"
    return settings.COUNTER_SCAN_ROOT


def _overflows(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")


def test_counter_binding_with_documents_letter_scan_and_approval(
    desktop, phone, live_demo, scan_root
):
    base, page = live_demo.url, desktop
    holder = InsuredPerson.objects.get(name="王建国")

    # js_clerk finds 王建国
    _staff_login(page, base, "js_clerk")
    page.get_by_label("身份证号码或姓名").fill("王建国")
    page.get_by_role("button", name="查找").click()
    page.wait_for_load_state("networkidle")
    check_page(page, "staff-counter-01-search")

    # ... and opens the counter binding for him (the person page will link here)
    page.goto(f"{base}/staff/persons/{holder.public_id}/binding/")
    check_page(page, "staff-counter-02-start")
    page.get_by_role("button", name="开始办理").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text().startswith("王建国的窗口绑定")
    check_page(page, "staff-counter-03-empty")

    # three relatives from their cards
    for name, relation in RELATIVES:
        person = InsuredPerson.objects.get(name=name)
        form = page.locator("#member-add-form")
        form.get_by_label("与主账户人的关系").select_option(label=relation)
        form.get_by_label("姓名").fill(name)
        form.get_by_label("身份证号码").fill(person.id_number)
        form.get_by_role("button", name="添加成员").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("status").filter(has_text=f"已添加{name}").count() == 1
    assert page.locator("table tbody tr").count() == 3
    content = page.content()
    assert "李秀英" in content and InsuredPerson.objects.get(name="王丽").id_number not in content

    # an incomplete checklist is refused with what is missing, next to its field
    documents = page.locator("#documents-form")
    documents.get_by_role("button", name="保存查验结果").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("须查验主账户人王建国的居民身份证或社会保障卡").count() >= 1
    check_page(page, "staff-counter-04-checklist-refused")

    documents = page.locator("#documents-form")
    documents.locator("input[name=holder_cards][value=id_card]").check()
    for box in documents.locator("input[name^=member_][value=ss_card]").all():
        box.check()
    documents.locator("input[name=proofs][value=household_register]").check()
    documents.get_by_role("button", name="保存查验结果").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("已记录查验的材料。").count() == 1
    check_page(page, "staff-counter-05-checklist-done")

    # print the letter (A4, navigation hidden when printed)
    page.get_by_role("button", name="生成并打印承诺书").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text() == "家庭关系承诺书"
    assert "主账户人签字" in page.content()
    check_page(page, "staff-counter-06-letter")
    page.emulate_media(media="print")
    assert page.locator(".staff-nav").is_hidden() and page.locator("header").is_hidden()
    shot(page, "staff-counter-07-letter-print")
    page.emulate_media(media="screen")
    page.get_by_role("link", name="返回办理页面").click()
    page.wait_for_load_state("networkidle")

    # a renamed executable is refused; the PDF scan is kept
    page.locator("input[name=scan]").set_input_files(
        files=[{"name": "签字件.pdf", "mimeType": "application/pdf", "buffer": EXECUTABLE}]
    )
    page.get_by_role("button", name="上传扫描件").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("该文件是可执行程序，不是扫描件，已拒收").count() == 1
    check_page(page, "staff-counter-08-upload-refused")
    page.locator("input[name=scan]").set_input_files(
        files=[{"name": "签字件.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    page.get_by_role("button", name="上传扫描件").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("签字件扫描件已上传。").count() == 1
    check_page(page, "staff-counter-09-uploaded")

    # submit: five members after binding, so it waits for a supervisor
    page.get_by_role("button", name="提交审核").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("已提交审核，审核通过后绑定生效。").count() == 1
    check_page(page, "staff-counter-10-pending")
    binding = CounterBinding.objects.get(holder=holder)
    assert binding.status == CounterBinding.Status.PENDING_REVIEW
    assert not Authorization.objects.filter(member__name="李秀英").exists()

    # js_super approves
    _staff_login(page, base, "js_super")
    page.get_by_role("link", name="待审核").click()
    page.wait_for_load_state("networkidle")
    check_page(page, "staff-counter-11-review-list")
    page.get_by_role("link", name="王建国").click()
    page.wait_for_load_state("networkidle")
    check_page(page, "staff-counter-12-review")
    page.get_by_label("同意，绑定生效").check()
    page.get_by_role("button", name="提交审核结论").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("已审核通过，绑定已生效。").count() == 1
    check_page(page, "staff-counter-13-done")

    binding.refresh_from_db()
    assert binding.status == CounterBinding.Status.DONE
    relationship = Relationship.objects.get(holder=holder, status=Relationship.Status.ACTIVE)
    letter = relationship.letters.get(pk=binding.letter_id)
    assert letter.channel == "counter" and letter.content_hash == binding.letter_hash
    assert letter.kind == CommitmentLetter.Kind.RELATIONSHIP_LETTER
    assert set(letter.authorizations.values_list("member__name", flat=True)) == {
        "王小明",
        "王德胜",
        "李秀英",
        "王丽",
        "周芳",
    }

    # the same page at 390 px does not break
    _staff_login(phone, base, "js_clerk")
    phone.goto(f"{base}/staff/bindings/{binding.public_id}/")
    phone.wait_for_load_state("networkidle")
    check_page(phone, "staff-counter-14-done-phone")
    assert not _overflows(phone)


def test_a_clerk_opens_a_wallet_for_wang_jianguo_at_the_counter(desktop, phone, live_demo):
    """R23 at the counter (R18, R20): js_clerk finds 王建国 (320100), opens the wallet page from
    his person page, is refused without a card ticked, ticks his 居民身份证 and both
    confirmations, and sees the open wallet on his page; the audit entry names the clerk and
    the counter. The open page is also looked at on a phone."""
    base, page = live_demo.url, desktop
    wang = InsuredPerson.objects.get(name="王建国")
    _staff_login(page, base, "js_clerk")
    page.get_by_label("身份证号码或姓名").fill("王建国")
    page.get_by_role("button", name="查找").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="王建国").first.click()
    page.wait_for_load_state("networkidle")
    wallet_panel = page.locator("section", has=page.get_by_role("heading", name="医保钱包"))
    assert "未开通" in wallet_panel.inner_text()
    check_page(page, "staff-wallet-01-person")

    page.get_by_role("link", name="开通医保钱包").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text() == "为王建国开通医保钱包"
    page.get_by_label("已与参保人核对参保地为江苏省南京市（320100）").check()
    page.get_by_label(f"已与参保人核对手机号码为{wang.masked_phone}").check()
    page.get_by_role("button", name="确认开通钱包").click()
    page.wait_for_load_state("networkidle")
    assert "请查验参保人本人的居民身份证或社会保障卡" in page.content()
    assert not Wallet.objects.filter(person=wang).exists()
    check_page(page, "staff-wallet-02-refused")

    page.get_by_label("居民身份证").check()
    page.get_by_label("已与参保人核对参保地为江苏省南京市（320100）").check()
    page.get_by_label(f"已与参保人核对手机号码为{wang.masked_phone}").check()
    page.get_by_role("button", name="确认开通钱包").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/staff/persons/{wang.public_id}/")
    assert page.get_by_role("status").filter(has_text="已为王建国开通医保钱包").count() == 1
    wallet_panel = page.locator("section", has=page.get_by_role("heading", name="医保钱包"))
    assert "已开通" in wallet_panel.inner_text() and "0.00元" in wallet_panel.inner_text()
    assert page.get_by_role("link", name="关闭医保钱包").count() == 1
    check_page(page, "staff-wallet-03-opened")

    assert Wallet.objects.get(person=wang).is_open
    entry = AuditEntry.objects.get(person=wang, action="wallet.open")
    assert (entry.channel, entry.actor.username) == ("counter", "js_clerk")
    assert entry.after["documents_seen"] == ["id_card"]

    _staff_login(phone, base, "js_clerk")
    phone.goto(f"{base}/staff/persons/{wang.public_id}/wallet/close/")
    phone.wait_for_load_state("networkidle")
    assert not _overflows(phone)
    check_page(phone, "staff-wallet-04-close-phone")
