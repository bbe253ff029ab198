"""Monthly credits (划入) into personal accounts: one at a time (`account_credit`), and the
checking of a CSV file of them (`credits_csv_check`), which `credit_import` stages and posts."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import idnumber
from accounts.models import AuditEntry, InsuredPerson, User
from accounts.services import audit_record

from ..models import CreditImport, CreditRow, CreditSource, LedgerAccount, LedgerTransaction
from . import ledger

if TYPE_CHECKING:
    from collections.abc import Callable

    from django_stubs_ext import StrOrPromise

# gettext of a lazy constant: its text in the active language (the stubs' gettext takes a str)
_g = cast("Callable[[StrOrPromise], str]", gettext)

MAX_AMOUNT = Decimal("9999999.99")
# The one shape of an amount, in the API's contract (OpenAPI `pattern`), the forms and the CSV:
# ASCII digits, at most 7 before the point, at most 2 after, no sign, blank, exponent or
# separator. Python's Decimal alone would also take "1_000", "+1", ".5", "5." and other scripts'
# digits (issue 13 point 10).
AMOUNT_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,2})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
_DECIMALS = re.compile(r"^[0-9]{1,7}\.[0-9]{3,}$")  # the one mistake worth its own message
AMOUNT_BAD_FORMAT = _("金额格式不正确，应为不超过两位小数的数字，例如 123.45")
CSV_COLUMNS = ("id_number", "name", "amount", "month")
CSV_ALREADY_IMPORTED = _("该文件已导入过，未重复入账")
CSV_BAD_HEADER = _("文件首行须为列名：id_number,name,amount,month")
CSV_EMPTY = _("文件中没有可导入的数据行")
CSV_NOT_UTF8 = _("文件须为 UTF-8 编码的 CSV")
CSV_UNREADABLE = _("文件不是可读取的 CSV（引号不配对或单元格过长）")
CSV_COLUMN_COUNT = _("须有4列")
CSV_BAD_MONTH = _("月份须为 YYYY-MM")
CSV_NOT_EMPLOYEE = _("只有职工医保参保人有个人账户")
CSV_TWICE_IN_FILE = _("同一人同一月份重复")
# Also for a person outside the uploader's regions: whether they exist is not revealed (issue 6).
CSV_PERSON_NOT_FOUND = _("未找到该身份证号码和姓名对应的参保人")
# Issue 13 point 5: whatever file it came in (another file, the same rows re-saved with CRLF or a
# trailing blank line), a person's month of one source is credited once.
CSV_ALREADY_CREDITED = _("该参保人%(month)s的%(source)s已由之前导入的文件入账，不能重复划入")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def parse_amount(raw: object) -> Decimal:
    """A money amount as text, exactly as the contract writes it (AMOUNT_PATTERN): positive, at
    most two decimal places, at most MAX_AMOUNT. Callers strip what a person typed around it (a
    form field, a CSV cell); the API sends it as it is, so " 1.00" is refused there."""
    text = raw if isinstance(raw, str) else ""
    if not _AMOUNT.fullmatch(text):
        if isinstance(raw, str) and _DECIMALS.fullmatch(raw):
            raise ValidationError(_("金额最多两位小数"), code="bad_amount")
        raise ValidationError(AMOUNT_BAD_FORMAT, code="bad_amount")
    value = Decimal(text)
    if value <= 0:
        raise ValidationError(_("金额必须大于0"), code="bad_amount")
    if value > MAX_AMOUNT:
        raise ValidationError(_("金额超出允许范围"), code="bad_amount")
    return value.quantize(Decimal("0.01"))


def account_credit(
    *,
    person: InsuredPerson,
    amount: Decimal,
    idempotency_key: str,
    description: str,
    actor: User | None,
    channel: str = AuditEntry.Channel.ADMIN,
    at: dt.datetime | None = None,
) -> LedgerTransaction:
    """Credit one personal account from the employer-credit source of its region."""
    with transaction.atomic():
        existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        entry = _credit(person, amount, idempotency_key, description, at or timezone.now())
        audit_record(
            actor=actor,
            channel=channel,
            action="account.credit",
            obj=entry,
            person=person,
            after={"amount": str(amount), "description": description},
        )
        return entry


def _credit(person, amount, idempotency_key, description, at) -> LedgerTransaction:
    account = ledger.personal_account_for(person)
    locked = ledger.accounts_lock([account.pk])
    source = ledger.bureau_account(LedgerAccount.Kind.EMPLOYER_CREDITS, person.region_id)
    return ledger.transaction_post(
        kind=LedgerTransaction.Kind.CREDIT,
        description=description,
        occurred_at=at,
        idempotency_key=idempotency_key,
        legs=[(source, -amount), (locked[account.pk], amount)],
    )


@dataclass
class CsvRowError:
    line: int
    message: str


class CreditImportRefused(Exception):
    """The file was not imported at all; `errors` says why, row by row."""

    def __init__(self, errors: list[CsvRowError]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


@dataclass(frozen=True)
class CheckedRow:
    line: int
    person: InsuredPerson
    month: dt.date  # the first day of the month credited
    amount: Decimal


@dataclass(frozen=True)
class CheckedFile:
    sha256: str
    source: str
    rows: list[CheckedRow]

    @property
    def total(self) -> Decimal:
        return sum((row.amount for row in self.rows), Decimal("0.00"))


def credits_csv_check(
    *, data: bytes, source: str = CreditSource.EMPLOYER, regions: frozenset[int] | None = None
) -> CheckedFile:
    """Check a CSV of credits (UTF-8, header id_number,name,amount,month) as a whole: every bad
    row is named, and one is enough to refuse the file (`CreditImportRefused`). A row whose
    person, month and source an earlier file already credited is bad. Blank lines, CRLF or CR
    line ends, a BOM and a last line without its newline read the same rows. `regions`: the
    region ids the uploader serves (`accounts.selectors.staff_region_ids`); a row for a person
    of any other region is refused as not found. None (a superuser, the command) limits nothing.
    Reads only; changes nothing."""
    if source not in CreditSource.values:
        raise ValueError(f"unknown credit source {source!r}")
    digest = hashlib.sha256(data).hexdigest()
    # A friendly early word for the very same bytes; the guarantee is CreditRow's constraint.
    if CreditImport.objects.filter(file_sha256=digest, source=source).exists():
        raise CreditImportRefused([CsvRowError(0, _g(CSV_ALREADY_IMPORTED))])
    parsed, errors = _parse(data)
    people = {
        p.id_number: p for p in InsuredPerson.objects.filter(id_number__in=[r[1] for r in parsed])
    }
    rows, seen = [], set()
    for line_no, number, name, amount, month in parsed:
        person = people.get(number)
        if (
            person is None
            or person.name != name
            or (regions is not None and person.region_id not in regions)
        ):
            errors.append(CsvRowError(line_no, _g(CSV_PERSON_NOT_FOUND)))
        elif person.scheme != InsuredPerson.Scheme.EMPLOYEE:
            errors.append(CsvRowError(line_no, _g(CSV_NOT_EMPLOYEE)))
        elif (number, month) in seen:
            errors.append(CsvRowError(line_no, _g(CSV_TWICE_IN_FILE)))
        else:
            rows.append(CheckedRow(line_no, person, month, amount))
        seen.add((number, month))
    errors += credited_before(rows=rows, source=source)
    if not parsed and not errors:
        errors.append(CsvRowError(0, _g(CSV_EMPTY)))
    if errors:
        raise CreditImportRefused(sorted(errors, key=lambda e: e.line))
    return CheckedFile(sha256=digest, source=source, rows=rows)


def _parse(data: bytes) -> tuple[list[tuple[int, str, str, Decimal, dt.date]], list[CsvRowError]]:
    """The rows that are well-formed (line, number, name, amount, month) and the errors of the
    others; a file that cannot be read as the expected CSV at all is refused here."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CreditImportRefused([CsvRowError(0, _g(CSV_NOT_UTF8))]) from None
    # newline="": the csv module sees the line ends as they are (\n, \r\n or \r) and handles
    # them all, as its documentation asks.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error:  # an unterminated quote, a field over csv's size limit, …
        raise CreditImportRefused([CsvRowError(reader.line_num, _g(CSV_UNREADABLE))]) from None
    if not records or tuple(h.strip() for h in records[0]) != CSV_COLUMNS:
        raise CreditImportRefused([CsvRowError(1, _g(CSV_BAD_HEADER))])
    rows, errors = [], []
    for line_no, row in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 4:
            errors.append(CsvRowError(line_no, _g(CSV_COLUMN_COUNT)))
            continue
        number, name, raw_amount, month = (cell.strip() for cell in row)
        try:
            number = idnumber.parse(number).number
            amount = parse_amount(raw_amount)
        except ValidationError as exc:
            errors.append(CsvRowError(line_no, "；".join(exc.messages)))
            continue
        if not _MONTH.fullmatch(month):
            errors.append(CsvRowError(line_no, _g(CSV_BAD_MONTH)))
            continue
        rows.append((line_no, number, name, amount, dt.date(int(month[:4]), int(month[5:]), 1)))
    return rows, errors


def credited_before(*, rows: list[CheckedRow], source: str) -> list[CsvRowError]:
    """The rows whose person and month already have a credit of this source (staged or posted,
    by any earlier file): one error per line."""
    if not rows:
        return []
    taken = set(
        CreditRow.objects.filter(
            source=source,
            person_id__in={row.person.pk for row in rows},
            month__in={row.month for row in rows},
        ).values_list("person_id", "month")
    )
    label = CreditSource(source).label
    return [
        CsvRowError(
            row.line,
            _g(CSV_ALREADY_CREDITED) % {"month": f"{row.month:%Y-%m}", "source": label},
        )
        for row in rows
        if (row.person.pk, row.month) in taken
    ]
