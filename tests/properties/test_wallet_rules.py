"""The transfer limits of R24 and R25 attacked with generated values (hypothesis):

- any amount, as a Decimal (any exponent, NaN, infinities, signed zeros) or as text (hostile
  values, numbers of any places, other scripts' digits), given to `wallet.rules.amount_refusal`
  and to `transfer_send`: refused with one of the amount codes, or accepted only when
  0 < amount ≤ 2000.00 with at most two places; never an exception other than ValidationError,
  and a refused send writes nothing;
- any instant, in any zone: `is_night` is 22:00–06:00 Asia/Shanghai, and `answer_by` is 06:00
  of the next Shanghai day, always after the instant."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEntry
from family.models import Relation
from wallet import rules, services

from .harness import changed, rolled_back
from .hostile import NASTY, hostile

SHANGHAI = ZoneInfo("Asia/Shanghai")
AMOUNT_CODES = {"transfer_amount_format", "transfer_amount_not_positive",
                "transfer_amount_too_large"}  # fmt: skip
MORNING = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")

decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-10, max_value=2100, places=2),
    st.decimals(min_value=-10, max_value=2100, places=3),
    st.decimals(min_value=Decimal("1999.99"), max_value=Decimal("2000.01")),
    st.sampled_from([Decimal("-0"), Decimal("0E-7"), Decimal("5E+2"), Decimal("2E+3"),
                     Decimal("1E+30"), Decimal("1E-400"), Decimal("sNaN"), Decimal("-NaN")]),
)  # fmt: skip
texts = st.one_of(
    decimals.map(str),
    st.from_regex(r"\A-?[0-9]{1,5}(\.[0-9]{0,4})?\Z"),
    st.sampled_from(NASTY),
    hostile(),
)
amounts = st.one_of(decimals, texts)


def should_accept(amount) -> bool:
    """The rule, written out independently: a finite number, more than nothing, at most
    2,000.00, in fen; text only as ASCII digits with an optional fraction."""
    if isinstance(amount, str):
        text = amount.strip()
        if not TEXT.fullmatch(text):
            return False
        amount = Decimal(text)
    if not amount.is_finite() or not Decimal("0") < amount <= Decimal("2000.00"):
        return False
    return (amount * 100) == (amount * 100).to_integral_value()


@settings(max_examples=400)
@given(amount=amounts)
@example(amount="2000.00")
@example(amount=" 2000.00 ")
@example(amount="2000.001")
@example(amount="0.01")
@example(amount="１２")
@example(amount="1e3")
def test_amount_refusal_refuses_with_an_amount_code_or_accepts_only_what_r24_allows(amount):
    refusal = rules.amount_refusal(amount)  # R24
    if refusal is None:
        assert should_accept(amount), amount
        value = rules.amount_value(amount)
        assert value == value.quantize(Decimal("0.01")) and value.as_tuple().exponent == -2
    else:
        assert isinstance(refusal, ValidationError) and refusal.code in AMOUNT_CODES
        assert not should_accept(amount), amount


def _writes() -> dict[str, int]:
    """Rows written so far in this transaction per table of the apps a send touches (the
    wallet's too), as tests/properties/harness.py counts them."""
    tables = {
        model._meta.db_table
        for label in ("accounts", "payments", "wallet")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
        )
        counts = dict(cursor.fetchall())
    return {table: counts.get(table, 0) for table in sorted(tables)}


@pytest.fixture
def sender_and_wallet(demo_unbound):
    wang, mother = demo_unbound["王建国"], demo_unbound["王秀兰"]
    services.wallet_open(
        person=mother, actor=mother.user, channel=AuditEntry.Channel.ONLINE,
        confirm_place=True, confirm_phone=True, at=MORNING - dt.timedelta(hours=1),
    )  # fmt: skip
    return wang, mother


@pytest.mark.django_db
@settings(max_examples=120)
@given(amount=amounts)
@example(amount="2000.00")
@example(amount="2000.01")
@example(amount=Decimal("5E+2"))
@example(amount=Decimal("sNaN"))
def test_transfer_send_with_any_amount(sender_and_wallet, amount):  # R24
    wang, mother = sender_and_wallet
    with rolled_back():
        before = _writes()
        try:
            transfer, created = services.transfer_send(
                sender=wang, actor=wang.user, channel=AuditEntry.Channel.ONLINE,
                recipient=mother, relation=Relation.PARENT, amount=amount,
                idempotency_key="property", at=MORNING,
            )  # fmt: skip
        except ValidationError as exc:
            assert exc.code in AMOUNT_CODES, (amount, exc.code)
            assert not should_accept(amount), amount
            assert changed(before, _writes()) == []  # a refused call changes nothing
        else:
            assert created and should_accept(amount), amount
            transfer.refresh_from_db()
            expected = Decimal(amount.strip() if isinstance(amount, str) else amount)
            assert transfer.amount == expected
            assert transfer.sender_account.balance == Decimal("5000.00") - expected


# hypothesis takes naive bounds and puts each drawn instant in one of the zones
instants = st.datetimes(
    min_value=dt.datetime(1970, 1, 2),  # noqa: DTZ001
    max_value=dt.datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.timezones(),
)


@settings(max_examples=400)
@given(at=instants)
@example(at=dt.datetime(2026, 3, 2, 22, 0, tzinfo=SHANGHAI))
@example(at=dt.datetime(2026, 3, 2, 21, 59, 59, 999999, tzinfo=SHANGHAI))
@example(at=dt.datetime(2026, 3, 2, 6, 0, tzinfo=SHANGHAI))
@example(at=dt.datetime(2026, 3, 2, 5, 59, 59, 999999, tzinfo=SHANGHAI))
@example(at=dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC))  # 22:00 in Shanghai
def test_night_is_22_to_6_in_shanghai_whatever_the_zone(at):  # R24
    local = at.astimezone(SHANGHAI)
    assert rules.is_night(at) == (local.hour >= 22 or local.hour < 6)
    assert (rules.night_refusal(at) is None) == (not rules.is_night(at))


@settings(max_examples=400)
@given(at=instants)
@example(at=dt.datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=SHANGHAI))
@example(at=dt.datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI))
@example(at=dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC))  # 00:00 on the 3rd in Shanghai
@example(at=dt.datetime(1988, 4, 10, 12, 0, tzinfo=SHANGHAI))  # China kept summer time then
def test_answer_by_is_six_the_next_shanghai_day_and_after_the_sending(at):  # R25
    deadline = rules.answer_by(at)
    local = deadline.astimezone(SHANGHAI)
    assert local.date() == at.astimezone(SHANGHAI).date() + dt.timedelta(days=1)
    assert (local.hour, local.minute, local.second, local.microsecond) == (6, 0, 0, 0)
    assert deadline > at
    start, end = rules.day_bounds(at)
    assert start <= at < end and end <= deadline  # the day it counts on ends before it
