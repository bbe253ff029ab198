"""Printable commitment letters (issue 7, R7): the print view and the PDF for the holder and for
staff, built only from the stored letter; region scope; query counts; an eight-member letter whose
member rows are never split by a page break.

Letters are signed through the real services (the demo cast of tests/conftest.py, or
`bind_eight`); pages go through Django's test client on PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import RegionPolicy
from family import letter_print, letters
from family.models import CommitmentLetter
from tests.clock import NOW
from tests.family.letter_helpers import (
    EIGHT,
    bind_eight,
    block_pages,
    pdf_fonts,
    pdf_pages_to_png,
    pdf_text,
    pdftools_available,
    signature_png,
    squeeze,
)


@pytest.fixture(autouse=True)
def _poppler():
    """These tests read the PDFs back with poppler-utils: without them they fail, never skip."""
    if not pdftools_available():
        pytest.fail("poppler-utils is missing: run `make system-deps` (pdftotext, pdftoppm)")


# Session, user, the letter with its holder and region (the holder's own: one query).
CITIZEN_PRINT_QUERIES = 3
# Session, user, the user's and the groups' permissions, the user's regions, the letter.
STAFF_PRINT_QUERIES = 6
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "letters"


def _letter(holder) -> CommitmentLetter:
    return CommitmentLetter.objects.filter(holder=holder).order_by("-signed_at", "-pk").first()


def _print_url(letter, namespace="family") -> str:
    return reverse(f"{namespace}:letter-print", args=[letter.public_id])


def _pdf_url(letter, namespace="family") -> str:
    return reverse(f"{namespace}:letter-pdf", args=[letter.public_id])


@pytest.fixture
def wang(demo, client):
    """王建国 logged in, with his signed letter (王小明 child, 王德胜 parent)."""
    holder = demo["王建国"]
    client.force_login(holder.user)
    return holder


# ---------------------------------------------------------------------------------------------
# the PDF


def test_the_pdf_names_the_holder_each_member_with_relation_and_window_and_the_code(
    client, wang, tmp_path
):
    letter = _letter(wang)
    response = client.get(_pdf_url(letter))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = squeeze(pdf_text(response.content, tmp_path))
    assert "王建国" in text
    assert "王小明" in text and "王德胜" in text
    assert "（子女，" in text and "（父母，" in text
    assert "自2025年01月01日00:00:00起，长期有效，至解除授权为止" in text
    assert "自2025年01月01日00:00:00起，至2026年12月31日23:59:59止" in text
    assert letter.verification_code in text
    assert "南京市医疗保障局" in text
    assert "第1页/共1页" in text
    # Only the masked identity numbers of the stored text, never a whole one (R7 text).
    assert wang.masked_id_number in text and wang.id_number not in text


def test_every_line_of_the_stored_text_is_in_the_pdf(client, wang, tmp_path):
    letter = _letter(wang)
    text = squeeze(pdf_text(client.get(_pdf_url(letter)).content, tmp_path))

    for line in letter.text.splitlines():
        assert squeeze(line) in text


def test_the_pdf_is_an_attachment_named_by_its_code_and_never_cached(client, wang):
    letter = _letter(wang)
    code = letter.verification_code
    response = client.get(_pdf_url(letter))

    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert f'filename="commitment-letter-{code}.pdf"' in disposition
    # RFC 5987: 承诺书-<code>.pdf, UTF-8 percent-encoded.
    assert f"filename*=UTF-8''%E6%89%BF%E8%AF%BA%E4%B9%A6-{code}.pdf" in disposition
    assert "no-store" in response["Cache-Control"]


def test_the_pdf_uses_only_the_bundled_font_embedded(client, wang, tmp_path):
    """Chinese renders the same on a machine with no font installed: every font of the PDF is the
    portal's own (static/fonts/, through @font-face), embedded (poppler's pdffonts), and nothing
    pdftotext reads back is a replacement character."""
    pdf = client.get(_pdf_url(_letter(wang))).content
    fonts = pdf_fonts(pdf, tmp_path)
    assert fonts
    assert all(row.split()[0].split("+")[-1].startswith("Portal-Sans-SC") for row in fonts), fonts
    assert all(re.search(r"\byes\b", row) for row in fonts)  # emb column
    assert "\ufffd" not in pdf_text(pdf, tmp_path)


def test_the_drawn_signature_and_typed_name_are_printed(client, demo, tmp_path):
    holder = demo["张伟"]
    letter = bind_eight(holder, at=NOW, image=signature_png())
    client.force_login(holder.user)

    page = client.get(_print_url(letter)).content.decode()
    assert f'src="{letter.signature_image}"' in page
    assert "张伟的手写签名" in page
    pdf = client.get(_pdf_url(letter)).content
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf
    text = squeeze(pdf_text(pdf, tmp_path))
    assert "签名（姓名）张伟" in text
    assert "2026年11月23日10:00:00" in text  # signed at, Asia/Shanghai
    assert "网上服务" in text


# ---------------------------------------------------------------------------------------------
# the print view


def test_the_print_view_is_a_standalone_a4_page_without_navigation(client, wang):
    letter = _letter(wang)
    response = client.get(_print_url(letter))
    page = response.content.decode()

    assert response.status_code == 200
    assert "<nav" not in page and "navbar" not in page and "<footer" not in page
    assert "size: A4" in page and "@media print" in page
    assert "break-inside: avoid" in page
    assert page.count('class="member"') == 2
    assert "<svg" in page and 'class="qr-code"' in page
    assert f"http://testserver/verify/{letter.verification_code}" in page
    assert letter.content_hash in page
    assert "南京市医疗保障局" in page
    # The print button hides itself in print (the toolbar is .no-print); a link to the PDF.
    assert 'class="toolbar no-print"' in page and "data-print" in page
    assert _pdf_url(letter) in page
    assert "no-store" in response["Cache-Control"]


def test_the_letter_page_links_to_the_print_view_and_the_pdf(client, wang):
    letter = _letter(wang)
    page = client.get(reverse("family:letter-detail", args=[letter.public_id])).content.decode()

    assert _print_url(letter) in page and _pdf_url(letter) in page
    assert "下载PDF" in page


def test_the_stored_text_is_split_into_blocks_that_keep_every_line_once(wang):
    letter = _letter(wang)
    title, subtitle, blocks = letter_print.split_text(letter.text)

    printed = [title, subtitle] + [b.text for b in blocks if b.kind != "gap"]
    assert printed == [line for line in letter.text.splitlines() if line.strip()]
    members = [b.member for b in blocks if b.kind == "member"]
    assert [(m.number, m.name, m.relation) for m in members] == [
        (1, "王小明", "子女"),
        (2, "王德胜", "父母"),
    ]


# ---------------------------------------------------------------------------------------------
# immutable letters (R7, issue 7 point 4)


def test_a_letter_prints_its_stored_text_after_its_template_changed(
    client, wang, monkeypatch, tmp_path
):
    letter = _letter(wang)
    signed_wording = "本人自愿申请设立（变更）职工医保个人账户家庭共济关系"
    assert signed_wording in letter.text
    # Today the kind is worded differently (a new version, a new file).
    other = "family/letters/mutual_aid_letter_2025_1.txt"
    monkeypatch.setitem(letters.TEMPLATES, letter.kind, ("relationship_letter/2026.1", other))
    _version, today = letters.render(
        kind=letter.kind, purpose=letter.purpose, holder=wang, lines=[]
    )
    new_wording = "本人同意使用本人职工医保个人账户资金"
    assert new_wording in today and signed_wording not in today

    page = client.get(_print_url(letter)).content.decode()
    pdf = squeeze(pdf_text(client.get(_pdf_url(letter)).content, tmp_path))

    assert signed_wording in page and new_wording not in page
    assert squeeze(signed_wording) in pdf and new_wording not in pdf
    assert "relationship_letter/2025.1" in page


def test_the_bureau_heading_is_the_region_the_stored_text_names(client, wang):
    """A region renamed after signing does not change a signed letter's heading."""
    letter = _letter(wang)
    RegionPolicy.objects.filter(code="320100").update(name="新南京市")

    page = client.get(_print_url(letter)).content.decode()

    assert "南京市医疗保障局" in page and "新南京市" not in page


def test_a_letter_version_without_a_layout_of_its_own_uses_the_default_layout(wang):
    letter = _letter(wang)
    assert letter_print.layout_for(letter) == letter_print.LAYOUTS[letter.template_version]
    letter.template_version = "relationship_letter/2099.1"
    assert letter_print.layout_for(letter) == letter_print.DEFAULT_LAYOUT


# ---------------------------------------------------------------------------------------------
# scope


def test_a_citizen_gets_404_on_another_holders_letter(client, demo):
    other = _letter(demo["马志强"])
    client.force_login(demo["王建国"].user)

    assert client.get(_print_url(other)).status_code == 404
    assert client.get(_pdf_url(other)).status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_login(client, demo):
    letter = _letter(demo["王建国"])
    for url in (_print_url(letter), _pdf_url(letter)):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


def test_staff_print_and_download_letters_of_their_regions_only(client, demo, tmp_path):
    from accounts.models import User

    jiangsu = _letter(demo["王建国"])
    xinjiang = _letter(demo["马志强"])

    client.force_login(User.objects.get(username="xj_clerk"))
    assert client.get(_print_url(jiangsu, "staff")).status_code == 404
    assert client.get(_pdf_url(jiangsu, "staff")).status_code == 404
    assert client.get(_print_url(xinjiang, "staff")).status_code == 200
    pdf = client.get(_pdf_url(xinjiang, "staff")).content
    assert "五家渠市医疗保障局" in squeeze(pdf_text(pdf, tmp_path))

    client.force_login(User.objects.get(username="js_clerk"))
    page = client.get(_print_url(jiangsu, "staff")).content.decode()
    assert "王建国" in page
    assert reverse("staff:person", args=[demo["王建国"].public_id]) in page
    assert client.get(_pdf_url(jiangsu, "staff")).content.startswith(b"%PDF")
    assert client.get(_print_url(xinjiang, "staff")).status_code == 404


def test_a_citizen_gets_403_on_the_staff_letter_pages(client, demo):
    letter = _letter(demo["王建国"])
    client.force_login(demo["王建国"].user)

    assert client.get(_print_url(letter, "staff")).status_code == 403
    assert client.get(_pdf_url(letter, "staff")).status_code == 403


def test_the_staff_person_page_links_each_letter_to_its_print_view_and_pdf(client, demo):
    from accounts.models import User

    holder = demo["王建国"]
    letter = _letter(holder)
    client.force_login(User.objects.get(username="js_clerk"))

    page = client.get(reverse("staff:person", args=[holder.public_id])).content.decode()

    assert _print_url(letter, "staff") in page and _pdf_url(letter, "staff") in page


# ---------------------------------------------------------------------------------------------
# query counts


def test_the_citizen_print_view_runs_a_fixed_number_of_queries(
    client, wang, django_assert_num_queries
):
    letter = _letter(wang)
    with django_assert_num_queries(CITIZEN_PRINT_QUERIES):
        assert client.get(_print_url(letter)).status_code == 200
    with django_assert_num_queries(CITIZEN_PRINT_QUERIES):
        assert client.get(_pdf_url(letter)).status_code == 200


def test_the_staff_print_view_runs_a_fixed_number_of_queries_whatever_the_members(
    client, demo, django_assert_num_queries
):
    from accounts.models import User

    small = _letter(demo["王建国"])
    large = bind_eight(demo["张伟"], at=NOW)
    client.force_login(User.objects.get(username="js_clerk"))

    for letter in (small, large):
        with django_assert_num_queries(STAFF_PRINT_QUERIES):
            assert client.get(_print_url(letter, "staff")).status_code == 200


# ---------------------------------------------------------------------------------------------
# eight members (issue 7 acceptance): every row whole on one page; pages looked at as PNG


def test_an_eight_member_letter_keeps_every_member_row_on_one_page(client, demo, tmp_path):
    holder = demo["张伟"]
    letter = bind_eight(holder, at=NOW, image=signature_png())
    client.force_login(holder.user)

    pdf = client.get(_pdf_url(letter)).content
    text = squeeze(pdf_text(pdf, tmp_path))
    for name, *_rest in EIGHT:
        assert name in text
    assert "（祖父母，" in text and "（孙子女，" in text and "（兄弟姐妹，" in text
    assert "自2026年12月01日00:00:00起，长期有效，至解除授权为止" in text
    assert letter.verification_code in text

    html = letter_print.letter_html(letter, pdf=True)
    rows = block_pages(html, "member")
    assert len(rows) == len(EIGHT)
    assert all(len(pages) == 1 for pages in rows), rows
    signature = block_pages(html, "signature")
    assert len(signature) == 1 and len(signature[0]) == 1

    pngs = pdf_pages_to_png(pdf, tmp_path / "png", "eight-members")
    total = int(re.search(r"/共(\d+)页", text)[1])
    assert len(pngs) == total >= 1
    if os.environ.get("LETTER_ARTIFACTS"):  # LETTER_ARTIFACTS=1: keep them to look at
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for path in [tmp_path / "png" / "eight-members.pdf", *pngs]:
            shutil.copy(path, ARTIFACTS / path.name)


# ---------------------------------------------------------------------------------------------
# the three kinds: 家庭关系承诺书 (above), 共济承诺书 (五家渠 online), 个人账户代扣协议 (counter)


def test_the_xinjiang_mutual_aid_letter_prints_with_its_own_title_and_bureau(
    client, demo, tmp_path
):
    ma = demo["马志强"]
    letter = _letter(ma)
    assert letter.kind == CommitmentLetter.Kind.MUTUAL_AID_LETTER
    client.force_login(ma.user)
    text = squeeze(pdf_text(client.get(_pdf_url(letter)).content, tmp_path))
    assert "共济承诺书" in text and "五家渠市医疗保障局" in text
    assert "马小燕（子女，身份证号码" in text
    assert letter.verification_code in text


def test_the_counter_withholding_agreement_prints_with_its_window_label(
    client, demo, tmp_path, settings
):
    """A 五家渠 counter binding signs the 个人账户代扣协议 (its member lines say 代扣期限)."""
    from family import services
    from tests.staff.counter_helpers import documents_for, pdf_bytes, upload

    settings.COUNTER_SCAN_ROOT = tmp_path / "scans"
    ma, son = demo["马志强"], demo["马俊"]
    clerk = _staff("xj_clerk")
    binding = services.counter_binding_start(holder=ma, actor=clerk)
    services.counter_binding_member_add(
        binding=binding, person=son, relation="child", window_end=None, actor=clerk
    )
    services.counter_binding_documents_set(
        binding=binding, documents=documents_for(binding), actor=clerk
    )
    binding = services.counter_binding_letter_print(binding=binding, actor=clerk)
    binding = services.counter_binding_scan_attach(
        binding=binding, upload=upload(pdf_bytes()), actor=clerk
    )
    binding = services.counter_binding_submit(binding=binding, actor=clerk)
    letter = binding.letter
    assert letter.kind == CommitmentLetter.Kind.WITHHOLDING_AGREEMENT
    client.force_login(clerk)
    response = client.get(_pdf_url(letter, "staff"))
    assert response.content.startswith(b"%PDF")
    text = squeeze(pdf_text(response.content, tmp_path))
    assert "个人账户代扣协议" in text and "五家渠市医疗保障局" in text
    assert "马俊（子女，身份证号码" in text and "代扣期限" in text
    assert "经办窗口" in text  # the channel
    assert letter.verification_code in text


def _staff(username):
    from accounts.models import User

    return User.objects.get(username=username)
