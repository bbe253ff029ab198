"""The wire contract of the institution API (keep the names: outside systems depend on them).

Amounts travel as JSON strings with at most two decimals ("123.45"), never as JSON numbers, so
no float ever touches money. Categories and amounts arrive as plain strings on purpose: the
services decide (an unknown category is refused with 422 ineligible_category, not a schema 400)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils import timezone
from ninja import Field, Schema

from accounts import idnumber
from accounts.fields import has_control_characters

from ..models import ZERO, Settlement
from ..services import parse_amount
from ..services.credits import AMOUNT_PATTERN, MAX_AMOUNT
from . import errors
from .errors import ApiError

MAX_FUTURE = dt.timedelta(minutes=5)
# Care more than a year ago is not settled directly (the bureau's manual process handles it);
# the bound also keeps dates that no page could show or convert (year 1) out of the ledger.
MAX_PAST = dt.timedelta(days=366)
MONEY = {"pattern": AMOUNT_PATTERN, "examples": ["123.45"]}


# The contract's shape: date, "T", time to the second with optional fraction, then "Z" or an
# offset. Python's fromisoformat alone would take week dates, a space, or no time at all.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$", re.ASCII
)


class ItemIn(Schema):
    name: str = Field(..., max_length=200, description="Item name, not empty.")
    amount: str = Field(..., description="Item amount as a string, two decimals at most.",
                        json_schema_extra=MONEY)  # fmt: skip


class SettlementIn(Schema):
    patient_id_number: str = Field(
        ..., max_length=40, description="The patient's 18-character identity number."
    )
    category: str = Field(
        ...,
        max_length=40,
        description=(
            "R12: outpatient, inpatient, maternity, pharmacy_drug, pharmacy_device, vaccine. "
            "Anything else (fitness, wellness, public_health, …) is refused with 422 "
            "ineligible_category."
        ),
        json_schema_extra={"examples": ["outpatient"]},
    )
    amount: str = Field(
        ...,
        description="The personal-burden amount (R13) as a string: positive, two decimals at "
        f"most, no exponent, at most {MAX_AMOUNT}.",
        json_schema_extra=MONEY,
    )
    occurred_at: str = Field(
        ...,
        description="ISO 8601 with a UTC offset; not more than 5 minutes in the future and not "
        "more than 366 days in the past.",
        json_schema_extra={"format": "date-time", "examples": ["2026-11-23T09:30:00+08:00"]},
    )
    items: list[ItemIn] = Field(
        default_factory=list,
        max_length=500,
        description="Optional detail. When given, the item amounts must add up to `amount` "
        "exactly (else 400 items_mismatch).",
    )


class RefundIn(Schema):
    amount: str = Field(
        ...,
        description="Amount to refund, at most what is left of the settlement (else 422 "
        "refund_exceeds). Paid back in reverse order of payment: cash first, then each "
        "account line from the last to the first, to the accounts it came from (R11, R17).",
        json_schema_extra=MONEY,
    )


class LineOut(Schema):
    payer: str = Field(..., description="The payer's masked name, e.g. 王*国.")
    source: Literal["own", "wallet", "mutual_aid"] = Field(
        ...,
        description="own: the patient's personal account; wallet: the patient's 医保钱包 "
        "(R26, paid next); mutual_aid: a family member's account through an authorization.",
    )
    amount: str


class SettlementOut(Schema):
    id: str = Field(..., description="The settlement's public id (UUID).")
    status: Literal["settled", "partially_refunded", "refunded"]
    amount: str
    lines: list[LineOut] = Field(..., description="In payment order.")
    cash_due: str = Field(..., description="What no account paid; lines + cash_due = amount.")
    refunded: str


class ErrorDetail(Schema):
    code: str
    message: str


class ErrorOut(Schema):
    error: ErrorDetail


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def settlement_out(settlement: Settlement) -> dict:
    """The response body; expects the lines prefetched with their payers, or a settlement the
    service has just written (its `written_lines`, with their payers in memory)."""
    lines = (
        settlement.written_lines if settlement.written_lines is not None else settlement.lines.all()
    )
    return {
        "id": str(settlement.public_id),
        "status": settlement.status,
        "amount": money(settlement.amount),
        "lines": [
            {"payer": line.payer.masked_name, "source": line.source, "amount": money(line.amount)}
            for line in lines
        ],
        "cash_due": money(settlement.cash_due),
        "refunded": money(settlement.refunded),
    }


def amount_from(raw: str, *, field: str = "amount") -> Decimal:
    try:
        return parse_amount(raw)
    except ValidationError as exc:
        raise ApiError(400, "bad_amount", f"{field}: {'；'.join(exc.messages)}") from None


def occurred_at_from(raw: str) -> dt.datetime:
    if not _ISO_DATETIME.fullmatch(raw):
        raise ApiError(400, "bad_occurred_at", errors.BAD_OCCURRED_AT)
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "bad_occurred_at", errors.BAD_OCCURRED_AT) from None
    now = timezone.now()
    # Aware datetimes compare without overflow, whatever the year (year 1 included).
    if timezone.is_naive(value) or not now - MAX_PAST <= value <= now + MAX_FUTURE:
        raise ApiError(400, "bad_occurred_at", errors.BAD_OCCURRED_AT)
    return value


def id_number_from(raw: str) -> str:
    """A number that cannot be an identity number is the caller's typo: 400, not 404."""
    try:
        return idnumber.parse(raw).number
    except ValidationError:
        raise ApiError(400, "bad_id_number", errors.BAD_ID_NUMBER) from None


def items_from(items: list[ItemIn], *, amount: Decimal) -> list[dict]:
    parsed = []
    for index, item in enumerate(items):
        if not item.name.strip() or has_control_characters(item.name, lines=False):
            raise ApiError(400, "bad_item", f"items.{index}.name: {errors.BAD_ITEM}")
        parsed.append(
            {
                "name": item.name.strip(),
                "amount": amount_from(item.amount, field=f"items.{index}.amount"),
            }
        )
    if parsed and sum((item["amount"] for item in parsed), ZERO) != amount:
        raise ApiError(400, "items_mismatch", errors.ITEMS_MISMATCH)
    return [{"name": item["name"], "amount": money(item["amount"])} for item in parsed]
