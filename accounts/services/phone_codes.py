"""Phone-verification codes (issue 13): prove that a person holds their registered phone.

A code is 6 digits from `secrets`, sent by SMS (accounts.sms) and kept only as an HMAC keyed with
SECRET_KEY. It is valid for 5 minutes and used once; its 5th wrong entry voids it, and so does a
newer code for the same purpose. A person gets a code at most every 60 s and at most 5 in a day
(the Asia/Shanghai calendar day). The comparison is constant-time. Everything is in the database,
so Redis being down changes nothing. Purposes: activation now; a password reset can reuse it."""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import sms
from ..models import PHONE_CODE_MAX_WRONG, AuditEntry, InsuredPerson, PhoneCode, mask_phone
from .audit import audit_record

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_VALIDITY = dt.timedelta(minutes=5)
RESEND_AFTER = dt.timedelta(seconds=60)
CODES_PER_DAY = 5
SERVICE_DAY_ZONE = ZoneInfo("Asia/Shanghai")

PHONE_CODE_TOO_SOON = _("验证码已发送，请%(seconds)d秒后再重新获取")
PHONE_CODE_DAILY_LIMIT = _("今天获取验证码的次数已达上限，请明天再试")
PHONE_CODE_SEND_FAILED = _("短信发送失败，请稍后重新获取验证码")
PHONE_CODE_WRONG = _("验证码不正确，还可以再输入%(left)d次")
PHONE_CODE_TOO_MANY_WRONG = _("验证码输入错误次数过多，已失效，请重新获取验证码")
PHONE_CODE_EXPIRED = _("验证码已过期，请重新获取验证码")
PHONE_CODE_INVALID = _("验证码已失效，请重新获取验证码")

# What each purpose's message says: what the code is for, how long it is valid, tell nobody.
SMS_TEXTS: dict[str, StrPromise] = {
    PhoneCode.Purpose.ACTIVATE: _(
        "【家庭共济】您正在激活网上服务账号，验证码%(code)s，%(minutes)d分钟内有效。请勿告诉他人。"
    ),
}


@dataclass(frozen=True)
class PhoneCodeSent:
    person: InsuredPerson
    masked_phone: str
    expires_at: dt.datetime
    resend_at: dt.datetime


def _digest(*, person_id: int, purpose: str, code: str) -> str:
    value = f"{person_id}:{purpose}:{code}"
    return salted_hmac(
        "accounts.PhoneCode", value, secret=settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def _service_day_start(at: dt.datetime) -> dt.datetime:
    return at.astimezone(SERVICE_DAY_ZONE).replace(hour=0, minute=0, second=0, microsecond=0)


def phone_code_send(
    *,
    person: InsuredPerson,
    purpose: str,
    at: dt.datetime | None = None,
    channel: str = AuditEntry.Channel.ONLINE,
) -> PhoneCodeSent:
    """Send a new code for `purpose` to the person's registered phone; the open one is voided.

    Refused (ValidationError, nothing changed) within 60 s of the person's last code or after 5
    codes today. The message leaves once the code's row is committed, outside any transaction of
    this service, so a gateway failure is answered in the page: the new code is then voided."""
    at = at or timezone.now()
    with transaction.atomic():
        # One sender at a time per person: the 60 s and daily rules read, then write.
        locked = InsuredPerson.objects.select_for_update(no_key=True).only("pk", "phone")
        phone = locked.get(pk=person.pk).phone
        codes = PhoneCode.objects.filter(person_id=person.pk)
        last_at = codes.order_by("-created_at").values_list("created_at", flat=True).first()
        if last_at is not None and at < last_at + RESEND_AFTER:
            seconds = math.ceil((last_at + RESEND_AFTER - at).total_seconds())
            raise ValidationError(
                PHONE_CODE_TOO_SOON, code="phone_code_too_soon", params={"seconds": seconds}
            )
        if codes.filter(created_at__gte=_service_day_start(at)).count() >= CODES_PER_DAY:
            raise ValidationError(PHONE_CODE_DAILY_LIMIT, code="phone_code_daily_limit")
        replaced = codes.filter(purpose=purpose, used_at=None, voided_at=None).update(
            voided_at=at, void_reason=PhoneCode.VoidReason.REPLACED
        )
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        row = PhoneCode.objects.create(
            person_id=person.pk,
            purpose=purpose,
            code_hmac=_digest(person_id=person.pk, purpose=purpose, code=code),
            phone=phone,
            created_at=at,
            expires_at=at + CODE_VALIDITY,
        )
        audit_record(
            actor=None,
            channel=channel,
            action="phone_code.send",
            obj=row,
            person=person,
            after={
                "purpose": purpose,
                "phone": mask_phone(phone),
                "expires_at": row.expires_at.isoformat(),
                "replaced": replaced,
            },
        )
    with translation.override(settings.LANGUAGE_CODE):
        text = gettext(cast(str, SMS_TEXTS[purpose])) % {
            "code": code,
            "minutes": CODE_VALIDITY // dt.timedelta(minutes=1),
        }
    try:
        sms.send_sms(phone=phone, text=text)
    except Exception as exc:
        # Not the exception's text: a gateway may echo the message, and so the code.
        logger.error("SMS to %s failed: %s", mask_phone(phone), type(exc).__name__)
        _void(row=row, person=person, reason=PhoneCode.VoidReason.SEND_FAILED, channel=channel)
        raise ValidationError(PHONE_CODE_SEND_FAILED, code="phone_code_send_failed") from None
    return PhoneCodeSent(
        person=person,
        masked_phone=mask_phone(phone),
        expires_at=row.expires_at,
        resend_at=at + RESEND_AFTER,
    )


def _void(*, row: PhoneCode, person: InsuredPerson, reason: str, channel: str) -> None:
    with transaction.atomic():
        voided = PhoneCode.objects.filter(pk=row.pk, used_at=None, voided_at=None).update(
            voided_at=timezone.now(), void_reason=reason
        )
        if voided:
            audit_record(
                actor=None,
                channel=channel,
                action="phone_code.void",
                obj=row,
                person=person,
                after={"purpose": row.purpose, "reason": reason},
            )


def phone_code_verify(
    *,
    person: InsuredPerson,
    purpose: str,
    code: str,
    at: dt.datetime | None = None,
    channel: str = AuditEntry.Channel.ONLINE,
) -> None:
    """Use up the person's open code for `purpose` if `code` is it; otherwise ValidationError.

    A wrong entry is counted (the 5th voids the code) and that count is written before the
    refusal is raised: a caller inside its own transaction must let the block end normally and
    raise after it (as `citizen_activate` does), or the count is rolled back with it."""
    at = at or timezone.now()
    refusal = None
    with transaction.atomic():
        row = (
            PhoneCode.objects.select_for_update(of=("self",))
            .filter(person_id=person.pk, purpose=purpose, used_at=None, voided_at=None)
            .first()
        )
        if row is None or row.phone != person.phone:
            refusal = ValidationError(PHONE_CODE_INVALID, code="phone_code_invalid")
        elif at >= row.expires_at:
            refusal = ValidationError(PHONE_CODE_EXPIRED, code="phone_code_expired")
        elif constant_time_compare(
            row.code_hmac, _digest(person_id=person.pk, purpose=purpose, code=str(code))
        ):
            row.used_at = at
            row.save(update_fields=["used_at"])
        else:
            row.wrong_attempts += 1
            fields = ["wrong_attempts"]
            left = PHONE_CODE_MAX_WRONG - row.wrong_attempts
            if left <= 0:
                row.voided_at, row.void_reason = at, PhoneCode.VoidReason.TOO_MANY_WRONG
                fields += ["voided_at", "void_reason"]
                refusal = ValidationError(PHONE_CODE_TOO_MANY_WRONG, code="phone_code_voided")
            else:
                refusal = ValidationError(
                    PHONE_CODE_WRONG, code="phone_code_wrong", params={"left": left}
                )
            row.save(update_fields=fields)
            audit_record(
                actor=None,
                channel=channel,
                action="phone_code.wrong",
                obj=row,
                person=person,
                after={
                    "purpose": purpose,
                    "wrong_attempts": row.wrong_attempts,
                    "voided": left <= 0,
                },
            )
    if refusal is not None:
        raise refusal
