"""Monthly credits (划入) imported from CSV by staff (issue 4 point 1): through the admin's
导入划入文件 page and through `manage.py import_credits`, both calling `credits_import_csv`.
A good file credits every account (one ledger transaction per row, an audit row for the
batch when it is staged and one when it is done, R20); a file with one bad row imports nothing
and names every bad line; the same file twice is refused.

Issue 13 point 5: one credit per person, month and source, whatever file it comes in: the same
rows re-saved (a trailing blank line, CRLF, a BOM, no final newline, CR line ends) are refused
line by line, and the database refuses a second row. Point 6: the upload stages the batch (its
rows pending) and the worker posts it; the admin shows the progress. The admin tests run the
task as the worker would, eagerly, on commit (`django_capture_on_commit_callbacks`); the
concurrency of it is in test_credit_import_concurrency.py."""

from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from accounts.models import AuditEntry, User
from payments import services, tasks
from payments.admin import CREDIT_PROGRESS, CREDITS_IMPORTED, CREDITS_REFUSED
from payments.models import (
    CreditImport,
    CreditRow,
    CreditSource,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
)
from payments.services.credits import (
    CSV_ALREADY_CREDITED,
    CSV_ALREADY_IMPORTED,
    CSV_BAD_MONTH,
    CSV_PERSON_NOT_FOUND,
    CSV_UNREADABLE,
)

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


def upload(client, text: str | bytes, name: str = "2026-10.csv", source: str = "employer"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        UPLOAD, {"source": source, "file": SimpleUploadedFile(name, data, "text/csv")}
    )


def upload_and_post(client, captured, text, **kwargs):
    """Upload, then run what the upload asked for after its commit: the worker's task (eager
    here, as in every test; the real worker is exercised in bench/credits.py)."""
    with captured(execute=True):
        return upload(client, text, **kwargs)


def batch_url(batch: CreditImport) -> str:
    return reverse("admin:payments_creditimport_change", args=[batch.pk])


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
    page = response.content.decode()
    assert "导入划入文件" in page
    assert 'type="file"' in page
    # The source: today's 单位缴费划入 by default, or the retirees' fixed credit.
    assert re.search(r'<option value="employer" selected>单位缴费划入</option>', page)
    assert '<option value="retiree_fixed">退休人员定额划入</option>' in page
    changelist = admin_page.get(CHANGELIST).content.decode()
    assert f'href="{UPLOAD}"' in changelist
    assert admin_page.get(f"{CHANGELIST}add/")["Location"] == UPLOAD


def test_good_file_credits_every_account_once(
    admin_page, staff_admin, django_capture_on_commit_callbacks
):
    before = balances()
    transactions = LedgerTransaction.objects.count()
    response = upload_and_post(admin_page, django_capture_on_commit_callbacks, GOOD)
    assert response.status_code == 302
    batch = CreditImport.objects.get()
    assert response["Location"] == batch_url(batch)
    page = admin_page.get(response["Location"]).content.decode()
    assert str(CREDITS_IMPORTED) % {
        "file": "2026-10.csv",
        "source": "单位缴费划入",
        "rows": 3,
        "total": "630.49",
    } in html.unescape(page)
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
    leg = LedgerLeg.objects.get(transaction__in=new, account__person__name="王建国")
    assert (leg.amount, leg.balance_after) == (Decimal("320.50"), after["王建国"])
    assert (batch.file_name, batch.rows, batch.total, batch.imported_by, batch.source) == (
        "2026-10.csv",
        3,
        Decimal("630.49"),
        staff_admin,
        CreditSource.EMPLOYER,
    )
    assert (batch.status, batch.rows_posted) == (CreditImport.Status.DONE, 3)
    rows = list(CreditRow.objects.filter(batch=batch).order_by("line"))
    assert [(r.line, r.person.name, f"{r.month:%Y-%m}", r.amount) for r in rows] == [
        (2, "王建国", "2026-10", Decimal("320.50")),
        (3, "李秀英", "2026-10", Decimal("210.00")),
        (4, "马志强", "2026-10", Decimal("99.99")),
    ]
    assert {r.ledger_transaction_id for r in rows} == {t.pk for t in new}
    assert all(r.status == CreditRow.Status.POSTED for r in rows)
    # Audited once when staged (by the uploader) and once when every row is posted (the worker).
    entry = AuditEntry.objects.get(action="account.credit_import")
    assert (entry.actor, entry.channel) == (staff_admin, AuditEntry.Channel.ADMIN)
    assert entry.after == {
        "file": "2026-10.csv",
        "source": "employer",
        "rows": 3,
        "total": "630.49",
    }
    done = AuditEntry.objects.get(action="account.credit_import_done")
    assert (done.actor, done.channel, done.object_id) == (
        None,
        AuditEntry.Channel.SYSTEM,
        str(batch.public_id),
    )
    assert done.after == {"file": "2026-10.csv", "rows": 3, "total": "630.49"}


def test_the_upload_stages_and_the_worker_posts(admin_page, django_capture_on_commit_callbacks):
    """Issue 13 point 6: the request only checks and stages (rows pending, no money moved, one
    task asked for after commit); the task posts."""
    before = balances()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(admin_page, GOOD)
    assert response.status_code == 302
    batch = CreditImport.objects.get()
    assert (batch.status, batch.rows_posted, batch.rows) == ("queued", 0, 3)
    assert set(CreditRow.objects.values_list("status", flat=True)) == {"pending"}
    assert balances() == before
    assert not LedgerTransaction.objects.filter(kind="credit", credit_row__isnull=False).exists()
    assert len(callbacks) == 1  # the task, enqueued once the batch is committed
    callbacks[0]()
    batch.refresh_from_db()
    assert (batch.status, batch.rows_posted) == ("done", 3)
    assert balances()["王建国"] - before["王建国"] == Decimal("320.50")


def test_the_batch_page_and_list_show_the_progress(
    admin_page, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload(admin_page, GOOD)
    batch = CreditImport.objects.get()
    with django_assert_max_num_queries(14):
        page = admin_page.get(batch_url(batch)).content.decode()
    text = html.unescape(page)
    assert str(CREDIT_PROGRESS) % {"posted": 0, "rows": 3} in text
    assert "等待入账" in text and "刷新进度" in text
    assert '<meta http-equiv="refresh" content="5">' in page  # reloads itself, no script
    with django_assert_max_num_queries(9):
        listing = admin_page.get(CHANGELIST).content.decode()
    assert str(CREDIT_PROGRESS) % {"posted": 0, "rows": 3} in html.unescape(listing)
    assert '<meta http-equiv="refresh" content="5">' in listing

    callbacks[0]()
    page = admin_page.get(batch_url(batch)).content.decode()
    assert str(CREDIT_PROGRESS) % {"posted": 3, "rows": 3} in html.unescape(page)
    assert "已全部入账" in page and "刷新进度" not in page
    assert 'http-equiv="refresh"' not in page
    listing = admin_page.get(CHANGELIST).content.decode()
    assert str(CREDIT_PROGRESS) % {"posted": 3, "rows": 3} in html.unescape(listing)
    assert 'http-equiv="refresh"' not in listing


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
    assert not CreditRow.objects.exists()
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


def test_same_file_twice_is_refused(admin_page, django_capture_on_commit_callbacks):
    assert upload_and_post(admin_page, django_capture_on_commit_callbacks, GOOD).status_code == 302
    after_first = balances()
    response = upload(admin_page, GOOD, name="renamed.csv")
    assert response.status_code == 200
    assert _error_rows(response) == {"整个文件": str(CSV_ALREADY_IMPORTED)}
    assert balances() == after_first
    assert CreditImport.objects.count() == 1


def _already_credited(lines=(2, 3, 4), month="2026-10", source="单位缴费划入") -> dict[str, str]:
    message = str(CSV_ALREADY_CREDITED) % {"month": month, "source": source}
    return {f"第{line}行": message for line in lines}


# The rows of GOOD as another program would save them: each has other bytes (another sha256),
# and each credited every person again on the old code.
RESAVED = {
    "trailing blank line": GOOD.encode() + b"\n",
    "trailing blank lines with blanks": GOOD.encode() + b"\n  \n,,,\n",
    "CRLF": GOOD.replace("\n", "\r\n").encode(),
    "BOM": b"\xef\xbb\xbf" + GOOD.encode(),
    "no final newline": GOOD.rstrip("\n").encode(),
    "CR line ends": GOOD.replace("\n", "\r").encode(),
    "BOM, CRLF, no final newline": b"\xef\xbb\xbf"
    + GOOD.rstrip("\n").replace("\n", "\r\n").encode(),
    "blanks around cells, x": GOOD.replace(",", " , ").replace("123X", "123x").encode(),
}


@pytest.mark.parametrize("variant", RESAVED)
def test_the_same_rows_saved_differently_are_refused_the_second_time(
    admin_page, django_capture_on_commit_callbacks, variant
):
    """Issue 13 point 5: the duplicate check keyed on the file's hash, so these credited one
    person and month again; now each line is refused, whatever file it comes in."""
    assert upload_and_post(admin_page, django_capture_on_commit_callbacks, GOOD).status_code == 302
    after_first = balances()
    transactions = LedgerTransaction.objects.count()
    response = upload_and_post(
        admin_page, django_capture_on_commit_callbacks, RESAVED[variant], name="again.csv"
    )
    assert response.status_code == 200
    assert str(CREDITS_REFUSED) in response.content.decode()
    assert _error_rows(response) == _already_credited()
    assert balances() == after_first
    assert LedgerTransaction.objects.count() == transactions
    assert CreditImport.objects.count() == 1


@pytest.mark.parametrize("variant", RESAVED)
def test_a_resaved_file_reads_the_same_rows(demo, variant):
    def rows(data):
        checked = services.credits_csv_check(data=data)
        return [(r.line, r.person.pk, r.month, r.amount) for r in checked.rows]

    assert rows(RESAVED[variant]) == rows(GOOD.encode())


def test_rows_staged_but_not_yet_posted_already_count(admin_page):
    """The worker has not posted the first file yet: its rows still refuse a second one."""
    assert upload(admin_page, GOOD).status_code == 302  # its task never runs here
    response = upload(admin_page, RESAVED["CRLF"], name="again.csv")
    assert _error_rows(response) == _already_credited()
    assert CreditImport.objects.count() == 1


def test_only_the_rows_already_credited_are_named(admin_page, django_capture_on_commit_callbacks):
    upload_and_post(admin_page, django_capture_on_commit_callbacks, GOOD)
    text = (
        HEADER
        + "32010219750312123X,王建国,320.50,2026-11\n"  # another month: fine
        + "320104197708252463,李秀英,210.00,2026-10\n"  # credited by GOOD
    )
    assert _error_rows(upload(admin_page, text)) == _already_credited(lines=[3])


def test_another_source_for_the_same_month_is_a_credit_of_its_own(
    admin_page, django_capture_on_commit_callbacks
):
    """The retirees' fixed credit (退休人员定额划入) is another source: the same person and month
    may have one of each, from the bureau's own account for it."""
    upload_and_post(admin_page, django_capture_on_commit_callbacks, GOOD)
    before = balances()
    response = upload_and_post(
        admin_page, django_capture_on_commit_callbacks, GOOD, source="retiree_fixed"
    )
    assert response.status_code == 302
    assert balances()["王建国"] - before["王建国"] == Decimal("320.50")
    batch = CreditImport.objects.get(source=CreditSource.RETIREE_FIXED)
    assert batch.status == "done"
    descriptions = set(
        LedgerTransaction.objects.filter(credit_row__batch=batch).values_list(
            "description", flat=True
        )
    )
    assert descriptions == {"2026-10 退休人员定额划入"}
    payer = LedgerLeg.objects.filter(
        transaction__credit_row__batch=batch, amount__lt=0
    ).values_list("account__kind", flat=True)
    assert set(payer) == {LedgerAccount.Kind.RETIREE_CREDITS}
    # ... and once only, too.
    response = upload(admin_page, RESAVED["CRLF"], source="retiree_fixed")
    assert _error_rows(response) == _already_credited(source="退休人员定额划入")


def test_the_database_refuses_a_second_credit_of_a_person_month_and_source(
    admin_page, django_capture_on_commit_callbacks
):
    """The guarantee is the database's, whatever a service checks first."""
    upload_and_post(admin_page, django_capture_on_commit_callbacks, GOOD)
    row = CreditRow.objects.order_by("pk").first()
    twin = CreditRow(
        batch=row.batch,
        line=99,
        person=row.person,
        account=row.account,
        month=row.month,
        source=row.source,
        amount=Decimal("1.00"),
    )
    refused = pytest.raises(
        IntegrityError, match="creditrow_one_credit_per_person_month_and_source"
    )
    with refused, transaction.atomic():
        twin.save()


def test_an_unknown_source_is_a_form_error_and_a_missing_one_the_default(
    admin_page, django_capture_on_commit_callbacks
):
    response = upload(admin_page, GOOD, source="bonus")
    assert response.status_code == 200
    assert "选择一个有效的选项" in response.content.decode()
    assert not CreditImport.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_page.post(
            UPLOAD, {"file": SimpleUploadedFile("x.csv", GOOD.encode(), "text/csv")}
        )
    assert response.status_code == 302
    assert CreditImport.objects.get().source == CreditSource.EMPLOYER


def test_a_file_that_is_not_the_expected_csv_is_refused(admin_page):
    response = upload(admin_page, "身份证号码,姓名\n1,2\n")
    assert "文件首行须为列名" in _error_rows(response)["第1行"]
    response = admin_page.post(UPLOAD, {})
    assert response.status_code == 200
    assert not CreditImport.objects.exists()


def test_a_file_csv_cannot_read_is_refused_not_a_500(admin_page):
    """A cell over csv's field size limit raised csv.Error, a 500, on the old code."""
    huge = "32010219750312123X," + "王" * 140_000 + ",1.00,2026-11\n"
    response = upload(admin_page, GOOD + huge)
    assert response.status_code == 200
    assert _error_rows(response) == {"第5行": str(CSV_UNREADABLE)}
    # A quote never closed swallows the rest of the file into one cell: a bad row, no 500.
    response = upload(admin_page, GOOD + '"32010219750312123X,王建国,1.00,2026-11\n')
    assert _error_rows(response) == {"第5行": "须有4列"}
    assert not CreditImport.objects.exists()


@pytest.mark.parametrize(
    "month", ["2026-1", "26-10", "２０２６-１０", "2026-00", "2026/10", "1-01"]
)
def test_a_month_must_be_four_digits_a_dash_and_two(demo, month):
    data = f"{HEADER}32010219750312123X,王建国,1.00,{month}\n".encode()
    with pytest.raises(services.CreditImportRefused) as refused:
        services.credits_csv_check(data=data)
    assert [(e.line, e.message) for e in refused.value.errors] == [(2, str(CSV_BAD_MONTH))]


def test_only_staff_with_the_add_permission_may_upload(
    client, demo, django_capture_on_commit_callbacks
):
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
    response = upload_and_post(client, django_capture_on_commit_callbacks, jiangsu_only)
    assert response.status_code == 302
    batch = CreditImport.objects.get()
    assert batch.imported_by.username == "js_super"
    # ... who then sees the batch and its progress.
    assert client.get(response["Location"]).status_code == 200
    assert batch.status == "done"


def test_a_file_imported_before_the_rows_existed_stays_in_its_regions_list(client, demo):
    """Batches of before migration 0005 have no rows: the list still scopes them by the ledger
    keys of their credits (credit:<number>:<month>:<first 16 of the digest>). Made with the ORM
    and `account_credit`, as the old import did; no service makes such a batch any more."""
    digest = "ab" * 32
    old = CreditImport.objects.create(
        file_name="2026-09.csv",
        file_sha256=digest,
        rows=1,
        total=Decimal("1.00"),
        status=CreditImport.Status.DONE,
        rows_posted=1,
    )
    services.account_credit(
        person=demo["王建国"],
        amount=Decimal("1.00"),
        idempotency_key=f"credit:32010219750312123X:2026-09:{digest[:16]}",
        description="2026-09 单位缴费划入",
        actor=None,
    )
    new = services.credits_import_csv(data=GOOD.encode(), file_name="new.csv", actor=None)

    def listed(username):
        client.force_login(User.objects.get(username=username))
        return set(client.get(CHANGELIST).context["cl"].queryset.values_list("pk", flat=True))

    assert listed("js_clerk") == {old.pk}  # new.csv also credits 马志强 (659004)
    assert listed("xj_clerk") == set()
    assert listed("admin") == {old.pk, new.pk}


# ---------------------------------------------------------------------------------------------
# through the management command


def test_command_imports_a_good_file(tmp_path, demo):
    path = tmp_path / "2026-10.csv"
    path.write_text(GOOD, encoding="utf-8")
    before = balances()
    out = io.StringIO()
    call_command("import_credits", str(path), "--user", "admin", stdout=out)
    # Staged, then posted in chunks before the command ends.
    assert "(employer): 3 row(s), total 630.49, 3 posted" in out.getvalue()
    assert balances()["王建国"] - before["王建国"] == Decimal("320.50")
    batch = CreditImport.objects.get()
    assert (batch.imported_by.username, batch.status, batch.rows_posted) == ("admin", "done", 3)


def test_command_takes_the_source(tmp_path, demo):
    path = tmp_path / "retirees.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("import_credits", str(path), "--source", "retiree_fixed", stdout=io.StringIO())
    call_command("import_credits", str(path), stdout=io.StringIO())  # the default source
    assert dict(CreditImport.objects.values_list("source", "rows_posted")) == {
        "retiree_fixed": 3,
        "employer": 3,
    }
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("import_credits", str(path), "--source", "bonus")


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
    # The same rows with CRLF: refused line by line.
    crlf = tmp_path / "again-crlf.csv"
    crlf.write_bytes(RESAVED["CRLF"])
    err = io.StringIO()
    with pytest.raises(CommandError, match="not imported"):
        call_command("import_credits", str(crlf), stderr=err)
    assert err.getvalue().splitlines() == [
        f"again-crlf.csv: line {n}: {message}"
        for n, message in zip((2, 3, 4), _already_credited().values(), strict=True)
    ]
    assert CreditImport.objects.count() == 1


def test_command_refuses_a_missing_file_or_unknown_user(tmp_path, demo):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_credits", str(tmp_path / "missing.csv"))
    path = tmp_path / "x.csv"
    path.write_text(GOOD, encoding="utf-8")
    with pytest.raises(CommandError, match="no staff user"):
        call_command("import_credits", str(path), "--user", "王建国")
    assert not CreditImport.objects.exists()


# ---------------------------------------------------------------------------------------------
# the tasks and their schedule


def test_the_task_posts_a_staged_batch_and_a_rerun_posts_nothing(admin_page):
    upload(admin_page, GOOD)  # staged; the task it asked for never ran
    batch = CreditImport.objects.get()
    assert tasks.post_credit_batch.delay(batch.pk).get() == 3
    assert tasks.post_credit_batch.delay(batch.pk).get() == 0
    assert tasks.post_credit_batch.delay(10**9).get() == 0  # a batch that does not exist
    assert tasks.resume_credit_batches.delay().get() == {"batches": 0, "rows": 0}
    assert LedgerTransaction.objects.filter(credit_row__batch=batch).count() == 3
    assert AuditEntry.objects.filter(action="account.credit_import_done").count() == 1


def test_the_resume_job_posts_what_was_left(admin_page):
    upload(admin_page, GOOD)
    upload(admin_page, GOOD, source="retiree_fixed")
    assert tasks.resume_credit_batches.delay().get() == {"batches": 2, "rows": 6}
    assert set(CreditImport.objects.values_list("status", flat=True)) == {"done"}


def test_the_migration_scheduled_the_resume_job_every_minute(db):
    schedule = PeriodicTask.objects.select_related("crontab").get(
        task="payments.resume_credit_batches"
    )
    assert schedule.enabled and schedule.expire_seconds == 55
    assert (schedule.crontab.minute, schedule.crontab.hour) == ("*", "*")
    assert str(schedule.crontab.timezone) == "Asia/Shanghai"
    assert tasks.resume_credit_batches.acks_late and tasks.post_credit_batch.acks_late
