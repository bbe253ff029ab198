"""Monthly credits (划入) into personal accounts: one at a time, or a whole CSV file at once."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from accounts import idnumber
from accounts.models import AuditEntry, InsuredPerson, User
from accounts.services import audit_record

from ..models import CreditImport, LedgerAccount, LedgerTransaction
from . import ledger

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
# Also for a person outside the uploader's regions: whether they exist is not revealed (issue 6).
CSV_PERSON_NOT_FOUND = _("未找到该身份证号码和姓名对应的参保人")


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


def credits_import_csv(
    *,
    data: bytes,
    file_name: str,
    actor: User | None,
    at: dt.datetime | None = None,
    regions: frozenset[int] | None = None,
) -> CreditImport:
    """Import a CSV of credits (UTF-8, header id_number,name,amount,month): every row is checked
    first; one bad row and nothing is imported. The same file twice is refused. `regions`: the
    region ids the uploader serves (`accounts.selectors.staff_region_ids`); a row for a person of
    any other region is refused as not found. None (a superuser, the command) limits nothing."""
    digest = hashlib.sha256(data).hexdigest()
    if CreditImport.objects.filter(file_sha256=digest).exists():
        raise CreditImportRefused([CsvRowError(0, _g(CSV_ALREADY_IMPORTED))])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CreditImportRefused([CsvRowError(0, _g("文件须为 UTF-8 编码的 CSV"))]) from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != CSV_COLUMNS:
        raise CreditImportRefused([CsvRowError(1, _g(CSV_BAD_HEADER))])

    rows, errors, seen = [], [], set()
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 4:
            errors.append(CsvRowError(line_no, _g("须有4列")))
            continue
        number, name, raw_amount, month = (cell.strip() for cell in row)
        try:
            number = idnumber.parse(number).number
            amount = parse_amount(raw_amount)
        except ValidationError as exc:
            errors.append(CsvRowError(line_no, "；".join(exc.messages)))
            continue
        try:
            dt.datetime.strptime(month, "%Y-%m")
        except ValueError:
            errors.append(CsvRowError(line_no, _g("月份须为 YYYY-MM")))
            continue
        rows.append((line_no, number, name, amount, month))
    people = {
        p.id_number: p for p in InsuredPerson.objects.filter(id_number__in=[r[1] for r in rows])
    }
    for line_no, number, name, _amount, month in rows:
        person = people.get(number)
        if (
            person is None
            or person.name != name
            or (regions is not None and person.region_id not in regions)
        ):
            errors.append(CsvRowError(line_no, _g(CSV_PERSON_NOT_FOUND)))
        elif person.scheme != InsuredPerson.Scheme.EMPLOYEE:
            errors.append(CsvRowError(line_no, _g("只有职工医保参保人有个人账户")))
        elif (number, month) in seen:
            errors.append(CsvRowError(line_no, _g("同一人同一月份重复")))
        seen.add((number, month))
    if not rows and not errors:
        errors.append(CsvRowError(0, _g(CSV_EMPTY)))
    if errors:
        raise CreditImportRefused(sorted(errors, key=lambda e: e.line))

    at = at or timezone.now()
    with transaction.atomic():
        batch = CreditImport.objects.create(
            file_name=file_name[:200],
            file_sha256=digest,
            rows=len(rows),
            total=sum((r[3] for r in rows), Decimal("0.00")),
            imported_by=actor if actor is not None and actor.is_authenticated else None,
        )
        for _line_no, number, _name, amount, month in rows:
            _credit(
                people[number],
                amount,
                f"credit:{number}:{month}:{digest[:16]}",
                # The ledger keeps Chinese whatever the uploader's page language (a record,
                # like the letters); pages show it as stored.
                f"{month} 单位缴费划入",
                at,
            )
        audit_record(
            actor=actor,
            channel=AuditEntry.Channel.ADMIN,
            action="account.credit_import",
            obj=batch,
            after={"file": batch.file_name, "rows": batch.rows, "total": str(batch.total)},
        )
    return batch
