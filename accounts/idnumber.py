"""居民身份证号码 (GB 11643-1999): validation, derived facts and masking.

Layout: 6-digit address code, 8-digit birth date (YYYYMMDD), 3-digit sequence (odd = male),
1 check character computed from the first 17 digits (ISO 7064 MOD 11-2, `X` stands for 10).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH = dt.date(1900, 1, 1)

# GB/T 2260 province-level codes (first two digits of a region or identity number).
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip

ID_FORMAT = _("身份证号码应为18位：前17位为数字，最后一位为数字或X")
ID_PROVINCE = _("身份证号码的地址码无效")
ID_BIRTH_DATE = _("身份证号码中的出生日期无效")
ID_BIRTH_FUTURE = _("身份证号码中的出生日期不能晚于今天")
ID_CHECK_DIGIT = _("身份证号码校验位不正确，请核对后重新输入")

_SHAPE = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdentityFacts:
    number: str
    birth_date: dt.date
    sex: str  # "M" or "F"
    province_code: str


def normalize(value: str) -> str:
    """Strip blanks and upper-case a trailing x: what a person types on a phone."""
    return "".join(str(value).split()).upper()


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def parse(value: str, *, today: dt.date | None = None) -> IdentityFacts:
    """Validate a number and return what it says; raises ValidationError with a Chinese message."""
    number = normalize(value)
    if not _SHAPE.match(number):
        raise ValidationError(ID_FORMAT, code="id_format")
    if number[:2] not in PROVINCES:
        raise ValidationError(ID_PROVINCE, code="id_province")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(ID_BIRTH_DATE, code="id_birth_date") from None
    if birth < EARLIEST_BIRTH:
        raise ValidationError(ID_BIRTH_DATE, code="id_birth_date")
    if birth > (today or timezone.localdate()):
        raise ValidationError(ID_BIRTH_FUTURE, code="id_birth_future")
    if check_char(number[:17]) != number[17]:
        raise ValidationError(ID_CHECK_DIGIT, code="id_check_digit")
    return IdentityFacts(
        number=number,
        birth_date=birth,
        sex="M" if int(number[16]) % 2 else "F",
        province_code=number[:2],
    )


def validate_id_number(value: str) -> None:
    """Model/form field validator."""
    parse(value)


def looks_like_number(value: str) -> bool:
    """18 characters shaped like an identity number (valid or not): what must not be echoed."""
    return bool(_SHAPE.match(normalize(value or "")))


def mask(value: str) -> str:
    """`32010219750312123X` -> `3201**********123X`: the first 4 and last 4 stay visible."""
    number = normalize(value or "")
    if len(number) != 18:
        return "*" * len(number)
    return f"{number[:4]}{'*' * 10}{number[-4:]}"


def province_name(code: str) -> str:
    return PROVINCES.get(str(code)[:2], "")
