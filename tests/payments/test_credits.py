"""Monthly credits (划入) imported from CSV by staff (issue 4 point 1): through the admin's
导入划入文件 page and through `manage.py import_credits`, both calling `credits_import_csv`.
A good file credits every account (one ledger transaction per row, an audit row for the
batch, R20); a file with one bad row imports nothing and names every bad line; the same file
twice is refused."""

from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import AuditEntry, User
from payments.admin import CREDITS_IMPORTED, CREDITS_REFUSED
from payments.models import CreditImport, LedgerAccount, LedgerLeg, LedgerTransaction
from payments.services.credits import CSV_ALREADY_IMPORTED, CSV_PERSON_NOT_FOUND

UPLOAD = reverse("admin:payments_creditimport_upload")
CHANGELIST = reverse("admin:payments_creditimport_changelist")
HEADER = "id_number,name,amount,month\n"
GOOD = (
    HEADER
    + "32010219750312123X,王建国,320.50,2026-10\n"
    + "320104197708252463,李秀英,210.00,2026-10\n"
    + "659004198303221312,马志强,99.99,2026-10\n"
)
# One bad row of each kind, between good ones (line numbers count the header as line 1).
BAD_LINES = {
    3: (
        "320102197503121230,王建国,1.00,2026-10",
        "身份证号码校验位不正确，请核对后重新输入",
    ),  # bad check digit
    4: (
        "320105198207073177,张三,1.00,2026-10",
        "未找到该身份证号码和姓名对应的参保人",
    ),  # unknown person
    5: ("320102200609182481,王丽,1.00,2026-10", "只有职工医保参保人有个人账户"),  # resident
    6: ("320104197708252463,李秀英,1.001,2026-10", "金额最多两位小数"),
    7: ("320104197708252463,李秀英,1.00,2026-13", "月份须为 YYYY-MM"),
    9: ("32010219750312123X,王建国,5.00,2026-10", "同一人同一月份重复"),
}
BAD = (
    HEADER
    + "659004198303221312,马志强,10.00,2026-10\n"  # line 2, good
    + "".join(BAD_LINES[n][0] + "\n" for n in (3, 4, 5, 6, 7))
    + "32010219750312123X,王建国,10.00,2026-10\n"  # line 8, good
    + BAD_LINES[9][0]
    + "\n"
)


@pytest.fixture
def staff_admin(demo):
    return User.objects.get(username="admin")


@pytest.fixture
def admin_page(client, staff_admin):
    client.force_login(staff_admin)
    return client


def balances() -> dict[str, Decimal]:
    return {
        a.person.name: a.balance
        for a in LedgerAccount.objects.filter(person__isnull=False).select_related("person")
    }


def upload(client, text: str, name: str = "2026-10.csv"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def _error_rows(response) -> dict[str, str]:
    """The error table of the upload page: {"第3行": "message", ...}."""
    table = re.search(r'<table id="import-errors">(.*?)</table>', response.content.decode(), re.S)
    assert table, "the page shows the row errors"
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>", table.group(1), re.S)
    return {html.unescape(a.strip()): html.unescape(b.strip()) for a, b in rows}


# ---------------------------------------------------------------------------------------------
# through the admin


def test_upload_page_renders_for_staff_who_may_import(admin_page):
    response = admin_page.get(UPLOAD)
    assert response.status_code == 200
    assert "导入划入文件" in response.content.decode()
    assert 'type="file"' in response.content.decode()
    changelist = admin_page.get(CHANGELIST).content.decode()
    assert f'href="{UPLOAD}"' in changelist
    assert admin_page.get(f"{CHANGELIST}add/")["Location"] == UPLOAD


def test_good_file_credits_every_account_once(admin_page, staff_admin):
    before = balances()
    transactions = LedgerTransaction.objects.count()
    response = upload(admin_page, GOOD)
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    page = admin_page.get(CHANGELIST).content.decode()
    assert str(CREDITS_IMPORTED) % {"file": "2026-10.csv", "rows": 3, "total": "630.49"} in page
    after = balances()
    assert after["王建国"] - before["王建国"] == Decimal("320.50")
    assert after["李秀英"] - before["李秀英"] == Decimal("210.00")
    assert after["马志强"] - before["马志强"] == Decimal("99.99")
    assert {k: v for k, v in after.items() if k not in {"王建国", "李秀英", "马志强"}} == {
        k: v for k, v in before.items() if k not in {"王建国", "李秀英", "马志强"}
    }
    new = LedgerTransaction.objects.order_by("id")[transactions:]
    assert [t.kind for t in new] == ["credit"] * 3  # one transaction per row
    assert all(t.description == "2026-10 单位缴费划入" for t in new)
    leg = LedgerLeg.objects.get(transaction=new[0], account__person__name="王建国")
    assert (leg.amount, leg.balance_after) == (Decimal("320.50"), after["王建国"])
    batch = CreditImport.objects.get()
    assert (batch.file_name, batch.rows, batch.total, batch.imported_by) == (
        "2026-10.csv",
        3,
        Decimal("630.49"),
        staff_admin,
    )
    entry = AuditEntry.objects.get(action="account.credit_import")
    assert (entry.actor, entry.channel) == (staff_admin, AuditEntry.Channel.ADMIN)
    assert entry.after == {"file": "2026-10.csv", "rows": 3, "total": "630.49"}


def test_file_with_bad_rows_imports_nothing_and_names_each_line(admin_page):
    before = balances()
    transactions = LedgerTransaction.objects.count()
    response = upload(admin_page, BAD)
    assert response.status_code == 200
    assert str(CREDITS_REFUSED) in response.content.decode()
    errors = _error_rows(response)
    assert errors == {f"第{line}行": message for line, (_row, message) in BAD_LINES.items()}
    assert balances() == before
    assert LedgerTransaction.objects.count() == transactions
    assert not CreditImport.objects.exists()
    assert not AuditEntry.objects.filter(action="account.credit_import").exists()


@pytest.mark.parametrize("line", sorted(BAD_LINES))
def test_a_single_bad_row_refuses_the_whole_file(admin_page, line):
    row, message = BAD_LINES[line]
    text = GOOD + row + "\n"
    # (line 9, the duplicate: its twin, 王建国 2026-10, is already in GOOD)
    before = balances()
    response = upload(admin_page, text)
    assert _error_rows(response) == {"第5行": message}
    assert balances() == before
    assert not CreditImport.objects.exists()


def test_same_file_twice_is_refused(admin_page):
    assert upload(admin_page, GOOD).status_code == 302
    after_first = balances()
    response = upload(admin_page, GOOD, name="renamed.csv")
    assert response.status_code == 200
    assert _error_rows(response) == {"整个文件": str(CSV_ALREADY_IMPORTED)}
    assert balances() == after_first
    assert CreditImport.objects.count() == 1


def test_a_file_that_is_not_the_expected_csv_is_refused(admin_page):
    response = upload(admin_page, "身份证号码,姓名\n1,2\n")
    assert "文件首行须为列名" in _error_rows(response)["第1行"]
    response = admin_page.post(UPLOAD, {})
    assert response.status_code == 200
    assert not CreditImport.objects.exists()


def test_only_staff_with_the_add_permission_may_upload(client, demo):
    client.force_login(User.objects.get(username="js_clerk"))
    assert client.get(UPLOAD).status_code == 403
    before = balances()
    assert upload(client, GOOD).status_code == 403
    assert balances() == before
    client.force_login(User.objects.get(username="js_super"))
    # Issue 6: a Jiangsu supervisor may not credit 马志强 (659004): the whole file is refused,
    # with the same message as for a person who does not exist.
    response = upload(client, GOOD)
    assert response.status_code == 200
    assert _error_rows(response) == {"第4行": str(CSV_PERSON_NOT_FOUND)}
    assert balances() == before
    jiangsu_only = "".join(line + "\n" for line in GOOD.splitlines() if "马志强" not in line)
    assert upload(client, jiangsu_only).status_code == 302
    assert CreditImport.objects.get().imported_by.username == "js_super"


# ---------------------------------------------------------------------------------------------
# through the management command


def test_command_imports_a_good_file(tmp_path, demo):
    path = tmp_path / "2026-10.csv"
    path.write_text(GOOD, encoding="utf-8")
    before = balances()
    out = io.StringIO()
    call_command("import_credits", str(path), "--user", "admin", stdout=out)
    assert "3 row(s), total 630.49" in out.getvalue()
    assert balances()["王建国"] - before["王建国"] == Decimal("320.50")
    assert CreditImport.objects.get().imported_by.username == "admin"


def test_command_reports_row_errors_and_imports_nothing(tmp_path, demo):
    path = tmp_path / "bad.csv"
    path.write_text(BAD, encoding="utf-8")
    before = balances()
    err = io.StringIO()
    with pytest.raises(CommandError, match="not imported"):
        call_command("import_credits", str(path), stderr=err)
    lines = err.getvalue().splitlines()
    assert lines == [f"bad.csv: line {n}: {message}" for n, (_row, message) in BAD_LINES.items()]
    assert balances() == before
    assert not CreditImport.objects.exists()


def test_command_exits_non_zero_when_refused(tmp_path, demo):
    """The same file twice. `manage.py` turns a CommandError into `sys.exit(returncode)`
    (BaseCommand.run_from_argv); running that here would close the test's connection."""
    path = tmp_path / "again.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("import_credits", str(path), stdout=io.StringIO())
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_credits", str(path), stderr=err)
    assert refused.value.returncode == 1
    assert err.getvalue() == f"again.csv: file: {CSV_ALREADY_IMPORTED}\n"
    assert CreditImport.objects.count() == 1


def test_command_refuses_a_missing_file_or_unknown_user(tmp_path, demo):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_credits", str(tmp_path / "missing.csv"))
    path = tmp_path / "x.csv"
    path.write_text(GOOD, encoding="utf-8")
    with pytest.raises(CommandError, match="no staff user"):
        call_command("import_credits", str(path), "--user", "王建国")
    assert not CreditImport.objects.exists()
