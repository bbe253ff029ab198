"""Phone-verification codes (issue 13): 6 digits by SMS, kept only as an HMAC, 5 minutes, used
once, void after 5 wrong entries or a newer code, one a minute and 5 a day, database only."""

import datetime as dt
import json
import logging
from zoneinfo import ZoneInfo

import pytest
import redis
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts import services, sms
from accounts.models import AuditEntry, PhoneCode, User
from tests.factories import InsuredPersonFactory, sms_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
ACTIVATE = PhoneCode.Purpose.ACTIVATE
PASSWORD = "Gongji-2025!"


@pytest.fixture
def person(db):
    return InsuredPersonFactory(name="王小明", id_number="320102201206011359", phone="13800000003")


@pytest.fixture
def known_code(monkeypatch):
    """The next codes are 271828: a search for the code in a row or the trail cannot then hit
    a random code that happens to be part of a phone number, a date or a digest."""
    monkeypatch.setattr(services.phone_codes.secrets, "randbelow", lambda n: 271828)
    return "271828"


def _send(person, at=T0):
    return services.phone_code_send(person=person, purpose=ACTIVATE, at=at)


def _verify(person, code, at=T0):
    services.phone_code_verify(person=person, purpose=ACTIVATE, code=code, at=at)


def _refusal(call, *args, **kwargs) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        call(*args, **kwargs)
    return exc.value.messages


def _message(constant, **params) -> list[str]:
    return [str(constant) % params if params else str(constant)]


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_sms_says_what_the_code_is_for_how_long_and_to_tell_nobody(person):
    sent = _send(person)
    [message] = sms.outbox
    code = sms_code("13800000003")
    assert message.phone == "13800000003"  # the registered phone
    assert message.text == (
        f"【家庭共济】您正在激活网上服务账号，验证码{code}，5分钟内有效。请勿告诉他人。"
    )
    assert (sent.masked_phone, sent.expires_at, sent.resend_at) == (
        "138****0003",
        T0 + dt.timedelta(minutes=5),
        T0 + dt.timedelta(seconds=60),
    )


def test_the_code_is_stored_only_as_an_hmac(person, known_code):
    _send(person)
    code = sms_code(person.phone)
    assert code == known_code
    row = PhoneCode.objects.values().get()
    assert code not in json.dumps(row, default=str)
    assert len(row["code_hmac"]) == 64
    with connection.cursor() as cursor:  # the table as a database reader sees it
        cursor.execute("SELECT * FROM accounts_phonecode")
        assert code not in repr(cursor.fetchall())
    # Keyed with SECRET_KEY: the same code for another person has another digest.
    other = services.phone_codes._digest(person_id=person.pk + 1, purpose=ACTIVATE, code=code)
    assert other != row["code_hmac"]


def test_sending_is_audited_with_the_masked_phone_and_never_the_code(person, known_code):  # R20
    _send(person)
    code = sms_code(person.phone)
    assert code == known_code
    assert _refusal(_verify, person, _wrong(code), at=T0 + dt.timedelta(seconds=5))
    entry = AuditEntry.objects.get(action="phone_code.send")
    assert (entry.person, entry.channel, entry.actor) == (person, "online", None)
    assert entry.after["phone"] == "138****0003"
    assert entry.after["purpose"] == "activate"
    trail = json.dumps(list(AuditEntry.objects.values("before", "after")), ensure_ascii=False)
    assert code not in trail
    assert _wrong(code) not in trail
    assert "13800000003" not in trail


def test_the_right_code_is_accepted_once(person):
    _send(person)
    code = sms_code(person.phone)
    _verify(person, code, at=T0 + dt.timedelta(minutes=1))
    assert PhoneCode.objects.get().used_at == T0 + dt.timedelta(minutes=1)
    assert _refusal(_verify, person, code, at=T0 + dt.timedelta(minutes=2)) == _message(
        services.PHONE_CODE_INVALID
    )


def test_fifth_wrong_entry_voids_the_code_and_the_right_one_is_then_refused(person):
    _send(person)
    code = sms_code(person.phone)
    for left in (4, 3, 2, 1):
        assert _refusal(_verify, person, _wrong(code)) == _message(
            services.PHONE_CODE_WRONG, left=left
        )
    assert _refusal(_verify, person, _wrong(code)) == _message(services.PHONE_CODE_TOO_MANY_WRONG)
    assert _refusal(_verify, person, code) == _message(services.PHONE_CODE_INVALID)
    row = PhoneCode.objects.get()
    assert (row.wrong_attempts, row.void_reason, row.used_at) == (5, "too_many_wrong", None)
    assert row.voided_at == T0
    assert AuditEntry.objects.filter(action="phone_code.wrong").count() == 5


def test_wrong_entries_through_activation_are_kept_although_activation_is_refused(person):
    """citizen_activate runs in a transaction: the count must survive its refusal."""
    _send(person)
    code = sms_code(person.phone)
    for _ in range(5):
        with pytest.raises(ValidationError):
            services.citizen_activate(person=person, code=_wrong(code), password=PASSWORD, at=T0)
    messages = _refusal(services.citizen_activate, person=person, code=code, password=PASSWORD)
    assert messages == _message(services.PHONE_CODE_INVALID)
    assert PhoneCode.objects.get().wrong_attempts == 5
    person.refresh_from_db()
    assert person.user is None
    assert User.objects.count() == 0


def test_an_expired_code_is_refused(person):
    with time_machine.travel(T0, tick=False):
        services.phone_code_send(person=person, purpose=ACTIVATE)
    code = sms_code(person.phone)
    with time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False):
        messages = _refusal(services.phone_code_verify, person=person, purpose=ACTIVATE, code=code)
    assert messages == _message(services.PHONE_CODE_EXPIRED)
    with time_machine.travel(T0 + dt.timedelta(minutes=4, seconds=59), tick=False):
        services.phone_code_verify(person=person, purpose=ACTIVATE, code=code)


def test_a_code_for_another_person_does_not_work(person):
    other = InsuredPersonFactory(phone="13800000006")
    _send(person)
    assert _refusal(_verify, other, sms_code(person.phone)) == _message(services.PHONE_CODE_INVALID)
    _send(other)
    assert _refusal(_verify, other, sms_code(person.phone)) == _message(
        services.PHONE_CODE_WRONG, left=4
    )
    _verify(person, sms_code(person.phone))  # still the owner's


def test_a_new_code_is_refused_within_60_seconds_and_then_voids_the_old_one(person):
    _send(person)
    first = sms_code(person.phone)
    assert _refusal(_send, person, at=T0 + dt.timedelta(seconds=20)) == _message(
        services.PHONE_CODE_TOO_SOON, seconds=40
    )
    assert _refusal(_send, person, at=T0 + dt.timedelta(seconds=59.5)) == _message(
        services.PHONE_CODE_TOO_SOON, seconds=1
    )
    assert len(sms.outbox) == 1
    assert PhoneCode.objects.count() == 1
    _send(person, at=T0 + dt.timedelta(seconds=60))
    second = sms_code(person.phone)
    old = PhoneCode.objects.order_by("created_at").first()
    assert (old.void_reason, old.voided_at) == ("replaced", T0 + dt.timedelta(seconds=60))
    if first != second:  # one chance in a million that they are the same digits
        assert _refusal(_verify, person, first, at=T0 + dt.timedelta(seconds=61)) == _message(
            services.PHONE_CODE_WRONG, left=4
        )
    _verify(person, second, at=T0 + dt.timedelta(seconds=62))


def test_at_most_five_codes_a_day_counted_in_the_shanghai_day(person):
    evening = dt.datetime(2026, 3, 2, 23, 50, tzinfo=SHANGHAI)  # 15:50 UTC
    for minute in range(5):
        _send(person, at=evening + dt.timedelta(minutes=minute))
    assert _refusal(_send, person, at=evening + dt.timedelta(minutes=9)) == _message(
        services.PHONE_CODE_DAILY_LIMIT
    )
    assert len(sms.outbox) == 5
    # 00:00:30 in Shanghai is still 2 March in UTC: the new day is Shanghai's.
    _send(person, at=dt.datetime(2026, 3, 3, 0, 0, 30, tzinfo=SHANGHAI))
    assert len(sms.outbox) == 6


def test_a_code_sent_to_a_phone_since_changed_is_refused(person):
    _send(person)
    code = sms_code(person.phone)
    person.phone = "13900000009"  # the bureau updates the register
    person.save(update_fields=["phone"])
    assert _refusal(_verify, person, code) == _message(services.PHONE_CODE_INVALID)


def test_a_failing_gateway_is_a_message_and_its_code_is_void(person, settings, caplog):
    settings.SMS_BACKEND = "tests.accounts.sms_doubles.FailingGateway"
    with caplog.at_level(logging.ERROR, logger="accounts.services.phone_codes"):
        assert _refusal(_send, person) == _message(services.PHONE_CODE_SEND_FAILED)
    row = PhoneCode.objects.get()
    assert (row.void_reason, row.voided_at is not None) == ("send_failed", True)
    assert "138****0003" in caplog.text
    assert "验证码" not in caplog.text  # the gateway's error echoed the message: not logged
    assert AuditEntry.objects.filter(action="phone_code.void").count() == 1


def test_the_database_keeps_one_open_code_per_person_and_purpose(person):
    _send(person)
    row = PhoneCode.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneCode.objects.create(
            person=person,
            purpose=ACTIVATE,
            code_hmac="0" * 64,
            phone=person.phone,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )


def test_codes_need_no_cache(person, settings):
    """Redis down changes nothing: the rules are in the database (nothing listens on port 1)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    from django.core.cache import cache

    with pytest.raises(redis.exceptions.ConnectionError):  # the override holds: cache down
        cache.set("probe", 1)
    _send(person)
    assert _refusal(_send, person, at=T0 + dt.timedelta(seconds=1))
    _verify(person, sms_code(person.phone))
