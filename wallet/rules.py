"""The transfer limits of R24 and R25 that need no database: amounts, the night pause, the day
a limit counts on and when an unanswered transfer goes back. All times in Asia/Shanghai (the
portal's TIME_ZONE), whatever zone the instant comes in."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone

from .errors import (
    TRANSFER_AMOUNT_FORMAT,
    TRANSFER_AMOUNT_NOT_POSITIVE,
    TRANSFER_AMOUNT_TOO_LARGE,
    TRANSFER_NIGHT,
)
from .models import TRANSFER_MAX

# R24: no transfer from 22:00 to 06:00; R25: an unanswered one returns by 06:00 the next day
NIGHT_STARTS = dt.time(22, 0)
DAY_STARTS = dt.time(6, 0)


# An amount as text: ASCII digits with an optional fraction (and a minus sign, so that "-1"
# is refused as not positive rather than as malformed). No exponent, no grouping, none of the
# other scripts' digits that Decimal() would take ("１２", "٣"), no "NaN".
_AMOUNT_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
CENT = Decimal("0.01")


def _as_decimal(amount: Decimal | str) -> Decimal | None:
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, str):
        text = amount.strip()
        if _AMOUNT_TEXT.fullmatch(text):
            return Decimal(text)
    return None  # a float, an int, None, or text that is not an amount


def amount_refusal(amount: Decimal | str) -> ValidationError | None:
    """Why `amount` may not be sent (R24), or None: more than nothing, at most 2,000.00, fen.
    `amount` is a Decimal or the text a person typed (surrounding spaces ignored); anything
    else is refused as malformed, never raised on."""
    value = _as_decimal(amount)
    try:
        if value is None or not value.is_finite() or value != value.quantize(CENT):
            return ValidationError(TRANSFER_AMOUNT_FORMAT, code="transfer_amount_format")
    except InvalidOperation:  # too many digits to have two places
        return ValidationError(TRANSFER_AMOUNT_FORMAT, code="transfer_amount_format")
    if value <= 0:
        return ValidationError(TRANSFER_AMOUNT_NOT_POSITIVE, code="transfer_amount_not_positive")
    if value > TRANSFER_MAX:
        return ValidationError(TRANSFER_AMOUNT_TOO_LARGE, code="transfer_amount_too_large")
    return None


def amount_value(amount: Decimal | str) -> Decimal:
    """The amount `amount_refusal` accepted, as a Decimal of two places ("5E+2" is 500.00)."""
    value = _as_decimal(amount)
    assert value is not None and amount_refusal(amount) is None
    return value.quantize(CENT)


def is_night(at: dt.datetime) -> bool:
    local = timezone.localtime(at).time()
    return local >= NIGHT_STARTS or local < DAY_STARTS


def night_refusal(at: dt.datetime) -> ValidationError | None:
    if is_night(at):
        return ValidationError(TRANSFER_NIGHT, code="transfer_night")
    return None


def day_bounds(at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The local calendar day of `at`, as [start, end) instants: what "3 a day" counts in."""
    day = timezone.localtime(at).date()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def answer_by(sent_at: dt.datetime) -> dt.datetime:
    """R25: 06:00 of the local day after the day it was sent (a transfer sent at 21:59 has until
    06:00 next morning; none is sent at night)."""
    day = timezone.localtime(sent_at).date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, DAY_STARTS))
