"""Form fields for dates every page can show and every conversion can handle (issue 13 points 3
and 12): 0001-01-01 or 9999-12-31 parse as dates, then overflow when a day is added or the time
is turned into UTC (a 500). Every date and datetime a form accepts lies in DATE_MIN..DATE_MAX.

And text without control characters, for every page (accounts.middleware) and the API."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# C0 and C1 control characters and DEL. NUL cannot be stored by PostgreSQL at all (a 500); the
# others corrupt CSV exports, printed letters and log lines (a forged line after "\r\n"), and
# nobody types them. Tab, line feed and carriage return are text where text has lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str, *, lines: bool = True) -> bool:
    """`lines`: tab, line feed and carriage return are allowed (a textarea sends them)."""
    return bool((_CONTROL_EXCEPT_LINES if lines else _CONTROL).search(text))


DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)
DATE_OUT_OF_RANGE = _("日期须在%(min)s至%(max)s之间")


def check_date_range(day: dt.date) -> None:
    if not DATE_MIN <= day <= DATE_MAX:
        raise ValidationError(
            DATE_OUT_OF_RANGE,
            code="date_range",
            params={"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()},
        )


def validate_date_in_range(value) -> None:
    """A validator for any date or datetime form field (the admin's too)."""
    if value is not None:
        check_date_range(value.date() if isinstance(value, dt.datetime) else value)


class BoundedDateField(forms.DateField):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("min", DATE_MIN.isoformat())
        self.widget.attrs.setdefault("max", DATE_MAX.isoformat())

    def validate(self, value):
        super().validate(value)
        if value is not None:
            check_date_range(value)


class BoundedDateTimeField(forms.DateTimeField):
    def validate(self, value):
        super().validate(value)
        if value is not None:
            check_date_range(value.date())
