"""GB 11643 identity numbers, property-style: the acceptance of issue 2."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import strategies as st

from accounts import idnumber

TODAY = dt.date(2026, 11, 23)

provinces = st.sampled_from(sorted(idnumber.PROVINCES))
births = st.dates(min_value=idnumber.EARLIEST_BIRTH, max_value=TODAY)


@st.composite
def valid_numbers(draw):
    first17 = (
        draw(provinces)
        + draw(st.from_regex(r"\A[0-9]{4}\Z"))
        + draw(births).strftime("%Y%m%d")
        + draw(st.from_regex(r"\A[0-9]{3}\Z"))
    )
    return first17 + idnumber.check_char(first17)


@given(valid_numbers())
def test_every_generated_valid_number_passes(number):
    facts = idnumber.parse(number, today=TODAY)
    assert facts.number == number
    assert facts.birth_date.strftime("%Y%m%d") == number[6:14]
    assert facts.sex == ("M" if int(number[16]) % 2 else "F")


@given(valid_numbers(), st.integers(min_value=0, max_value=17), st.data())
def test_any_single_changed_character_fails(number, position, data):
    alphabet = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(ValidationError):
        idnumber.parse(changed, today=TODAY)


@given(valid_numbers(), st.integers(min_value=1, max_value=36500))
def test_a_birth_date_after_today_fails(number, days_ahead):
    future = TODAY + dt.timedelta(days=days_ahead)
    assume(future.year <= 9999)
    first17 = number[:6] + future.strftime("%Y%m%d") + number[14:17]
    with pytest.raises(ValidationError) as exc:
        idnumber.parse(first17 + idnumber.check_char(first17), today=TODAY)
    assert exc.value.code == "id_birth_future"


@pytest.mark.parametrize(
    "birth", ["20230229", "19991301", "19990000", "20250431", "18991231", "00000101"]
)
def test_impossible_birth_dates_fail_even_with_a_right_check_digit(birth):
    first17 = "320102" + birth + "123"
    with pytest.raises(ValidationError) as exc:
        idnumber.parse(first17 + idnumber.check_char(first17), today=TODAY)
    assert exc.value.code == "id_birth_date"


def test_leap_day_is_a_real_date():
    first17 = "32010220240229123"
    assert idnumber.parse(first17 + idnumber.check_char(first17), today=TODAY).birth_date == (
        dt.date(2024, 2, 29)
    )


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "id_format"),
        ("3201021975031212", "id_format"),
        ("32010219750312123XX", "id_format"),
        ("3201021975031212Y3", "id_format"),
        ("99010219750312123X", "id_province"),
        ("320102197503121231", "id_check_digit"),
    ],
)
def test_malformed_numbers_say_why(value, code):
    with pytest.raises(ValidationError) as exc:
        idnumber.parse(value, today=TODAY)
    assert exc.value.code == code


def test_lower_case_x_and_blanks_are_normalized():
    assert idnumber.parse(" 3201021975 0312123x ", today=TODAY).number == "32010219750312123X"


def test_check_digit_x_stands_for_ten():
    assert idnumber.check_char("32010219750312123") == "X"


def test_messages_are_chinese():
    with pytest.raises(ValidationError) as exc:
        idnumber.parse("320102197503121231", today=TODAY)
    assert exc.value.messages == ["身份证号码校验位不正确，请核对后重新输入"]


@pytest.mark.parametrize(
    ("value", "masked"),
    [("32010219750312123X", "3201**********123X"), ("320104197708252463", "3201**********2463")],
)
def test_mask_keeps_first_four_and_last_four(value, masked):
    assert idnumber.mask(value) == masked
