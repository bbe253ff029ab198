"""Activation pages (issue 13): step 1 proves knowledge (number, name, phone) and sends a code to
the registered phone; step 2 proves possession (the code) and sets the password. Every refusal is
a message in the page and changes nothing."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accounts import services, sms
from accounts.fields import has_control_characters
from accounts.forms import PASSWORDS_DIFFER, PHONE_CODE_SHAPE
from accounts.models import AuditEntry, InsuredPerson, PhoneCode, User
from accounts.views import ACTIVATED, ACTIVATION_CODE_RESENT, ACTIVATION_START_FIRST
from tests.factories import make_id_number, sms_code

XIAOMING = "320102201206011359"  # 王小明, not activated in the cast
XIAOMING_PHONE = "13800000003"
PASSWORD = "Xiaoming-2026!"
START = reverse("accounts:activate")
CODE = reverse("accounts:activate-code")
RESEND = reverse("accounts:activate-resend")


def _html(response) -> str:
    return response.content.decode()


def _step1(**changes):
    return {"id_number": XIAOMING, "name": "王小明", "phone": XIAOMING_PHONE, **changes}


def _step2(code, **changes):
    return {"code": code, "password1": PASSWORD, "password2": PASSWORD, **changes}


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _started(client) -> str:
    """Step 1 done: the code that went to 王小明's registered phone."""
    response = client.post(START, _step1())
    assert response.status_code == 302
    assert response.url == CODE  # no identity number in the URL
    return sms_code(XIAOMING_PHONE)


def _nothing_activated(client, demo_accounts) -> None:
    assert InsuredPerson.objects.get(pk=demo_accounts["王小明"].pk).user_id is None
    assert "_auth_user_id" not in client.session


def test_activation_takes_two_steps_and_logs_in(client, demo_accounts):
    code = _started(client)
    page = _html(client.get(CODE))
    assert "138****0003" in page
    assert XIAOMING_PHONE not in page
    assert 'autocomplete="one-time-code"' in page
    assert 'inputmode="numeric"' in page
    response = client.post(CODE, _step2(code), follow=True)
    assert str(ACTIVATED) in _html(response)
    assert "您好，王小明" in _html(response)
    person = InsuredPerson.objects.get(pk=demo_accounts["王小明"].pk)
    assert client.session["_auth_user_id"] == str(person.user_id)
    assert "activation" not in client.session
    assert AuditEntry.objects.filter(action="person.activate", person=person).count() == 1


def test_the_old_one_step_activation_activates_nothing(client, demo_accounts):
    """Number, name, phone and password in one POST activated the account before issue 13."""
    data = {**_step1(), "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(START, data, follow=True)
    assert str(ACTIVATED) not in _html(response)
    _nothing_activated(client, demo_accounts)
    assert User.objects.filter(insured_person__isnull=False).count() == 10  # the cast's, only


def test_step_2_page_in_a_constant_number_of_queries(
    client, demo_accounts, django_assert_max_num_queries
):
    _started(client)
    with django_assert_max_num_queries(3):  # session, person with region, (messages in session)
        assert client.get(CODE).status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_number": "320102201206011358"}, "身份证号码校验位不正确，请核对后重新输入"),
        ({"id_number": "320102203006011359"}, "身份证号码中的出生日期不能晚于今天"),
        ({"name": "王晓明"}, str(services.ACTIVATION_MISMATCH)),
        ({"phone": "13900000003"}, str(services.ACTIVATION_MISMATCH)),
        ({"phone": "1380000"}, "请输入11位手机号码"),
        (
            {"id_number": "32010219750312123X", "name": "王建国", "phone": "13800000001"},
            str(services.ACTIVATION_ALREADY_DONE),
        ),
    ],
)
def test_bad_step_1_shows_a_message_sends_nothing_and_changes_nothing(
    client, demo_accounts, changes, message
):
    audit_before = AuditEntry.objects.count()
    response = client.post(START, _step1(**changes))
    assert response.status_code == 200
    assert message in _html(response)
    assert sms.outbox == []
    assert PhoneCode.objects.count() == 0
    assert AuditEntry.objects.count() == audit_before
    assert "activation" not in client.session
    _nothing_activated(client, demo_accounts)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password1": "12345678", "password2": "12345678"}, "这个密码太常见了。"),
        ({"password1": "Ab1!", "password2": "Ab1!"}, "密码长度太短。密码必须包含至少 8 个字符。"),
        ({"password2": "Xiaoming-2027!"}, str(PASSWORDS_DIFFER)),
        ({"code": "12345"}, str(PHONE_CODE_SHAPE)),
        ({"code": "１２３４５６"}, str(PHONE_CODE_SHAPE)),  # full-width digits
        ({"code": "12a456"}, str(PHONE_CODE_SHAPE)),
    ],
)
def test_bad_step_2_shows_a_message_and_changes_nothing(client, demo_accounts, changes, message):
    code = _started(client)
    audit_before = AuditEntry.objects.count()
    response = client.post(CODE, {**_step2(code), **changes})
    assert response.status_code == 200
    assert message in _html(response)
    assert AuditEntry.objects.count() == audit_before
    row = PhoneCode.objects.get()
    assert (row.used_at, row.wrong_attempts) == (None, 0)  # not used, not counted
    _nothing_activated(client, demo_accounts)


def test_a_code_typed_with_blanks_is_accepted(client, demo_accounts):
    code = _started(client)
    client.post(CODE, _step2(f" {code[:3]} {code[3:]} "))
    assert InsuredPerson.objects.get(pk=demo_accounts["王小明"].pk).user_id is not None


def test_a_wrong_code_says_how_many_tries_are_left_and_the_fifth_voids_it(client, demo_accounts):
    code = _started(client)
    for left in (4, 3, 2, 1):
        html = _html(client.post(CODE, _step2(_wrong(code))))
        assert str(services.PHONE_CODE_WRONG) % {"left": left} in html
    html = _html(client.post(CODE, _step2(_wrong(code))))
    assert str(services.PHONE_CODE_TOO_MANY_WRONG) in html
    html = _html(client.post(CODE, _step2(code)))  # the right one, too late
    assert str(services.PHONE_CODE_INVALID) in html
    _nothing_activated(client, demo_accounts)


def test_an_expired_code_says_to_ask_for_a_new_one(client, demo_accounts):
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        code = _started(client)
    with time_machine.travel(start + dt.timedelta(minutes=5, seconds=1), tick=False):
        html = _html(client.post(CODE, _step2(code)))
    assert str(services.PHONE_CODE_EXPIRED) in html
    _nothing_activated(client, demo_accounts)


def test_the_code_cannot_be_used_twice(client, demo_accounts):
    code = _started(client)
    client.post(CODE, _step2(code))
    client.logout()
    other = Client()
    other.post(START, _step1())  # 王小明 is activated now: step 1 says so and sends nothing
    assert len(sms.outbox) == 1
    response = other.post(CODE, _step2(code))
    assert response.status_code == 302
    assert response.url == START
    assert User.objects.filter(insured_person__name="王小明").count() == 1


def test_step_2_and_resend_without_step_1_go_back_to_step_1(client, demo_accounts):
    for method, url in (("get", CODE), ("post", CODE), ("post", RESEND)):
        response = getattr(client, method)(url, _step2("123456") if method == "post" else {})
        assert response.status_code == 302, url
        assert response.url == START
    response = client.get(START)
    assert str(ACTIVATION_START_FIRST) in _html(response)
    assert sms.outbox == []
    _nothing_activated(client, demo_accounts)


def test_a_code_of_another_person_does_not_work(client, demo_accounts):
    other = Client()
    other.post(START, _step1(id_number="320211198004192224", name="周芳", phone="13800000006"))
    zhou_code = sms_code("13800000006")
    code = _started(client)
    if zhou_code == code:
        pytest.skip("the two random codes happen to be the same digits")
    html = _html(client.post(CODE, _step2(zhou_code)))
    assert str(services.PHONE_CODE_WRONG) % {"left": 4} in html
    _nothing_activated(client, demo_accounts)


def test_resend_obeys_the_60_seconds_and_the_new_code_replaces_the_old(client, demo_accounts):
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        first = _started(client)
    with time_machine.travel(start + dt.timedelta(seconds=15), tick=False):
        response = client.post(RESEND, follow=True)
    assert str(services.PHONE_CODE_TOO_SOON) % {"seconds": 45} in _html(response)
    assert len(sms.outbox) == 1
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        response = client.post(RESEND, follow=True)
        second = sms_code(XIAOMING_PHONE)
        assert str(ACTIVATION_CODE_RESENT) % {"phone": "138****0003"} in _html(response)
        assert len(sms.outbox) == 2
        if first != second:
            html = _html(client.post(CODE, _step2(first)))
            assert str(services.PHONE_CODE_WRONG) % {"left": 4} in html
        client.post(CODE, _step2(second))
    assert InsuredPerson.objects.get(pk=demo_accounts["王小明"].pk).user_id is not None


def test_resend_stops_after_five_codes_a_day(client, demo_accounts):
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        _started(client)
    for minute in range(1, 6):
        with time_machine.travel(start + dt.timedelta(minutes=minute), tick=False):
            response = client.post(RESEND, follow=True)
    assert str(services.PHONE_CODE_DAILY_LIMIT) in _html(response)
    assert len(sms.outbox) == 5


def test_step_1_is_rate_limited_per_address(client, demo_accounts):
    for seq in range(20):  # 20 numbers nobody registered, from one address
        data = _step1(id_number=make_id_number("320100", seq=seq + 1))
        assert client.post(START, data, REMOTE_ADDR="10.0.0.1").status_code == 200
    response = client.post(START, _step1(), REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert "操作过于频繁，请稍后再试" in _html(response)
    assert sms.outbox == []
    assert client.post(START, _step1(), REMOTE_ADDR="10.0.0.2").status_code == 302


def test_step_1_is_rate_limited_per_identity_number_from_any_address(client, demo_accounts):
    data = _step1(name="不对")
    for attempt in range(15):
        response = client.post(START, data, REMOTE_ADDR=f"10.0.1.{attempt}")
        assert response.status_code == 200
    response = client.post(START, _step1(), REMOTE_ADDR="10.0.2.1")
    assert response.status_code == 429
    assert sms.outbox == []
    # Another person's number is not held up.
    other = _step1(id_number="320211198004192224", name="周芳", phone="13800000006")
    assert client.post(START, other, REMOTE_ADDR="10.0.2.2").status_code == 302


def test_step_2_is_rate_limited_per_address_and_per_person(client, demo_accounts):
    """Step 1 counts per identity number; step 2 and resend per person of the session."""
    code = _started(client)
    # A wrong-shaped code is refused by the form, without using up the code's five tries.
    for attempt in range(15):
        response = client.post(CODE, _step2("x"), REMOTE_ADDR=f"10.0.3.{attempt}")
        assert response.status_code == 200
    assert client.post(CODE, _step2(code), REMOTE_ADDR="10.0.4.1").status_code == 429
    assert client.post(RESEND, REMOTE_ADDR="10.0.4.2").status_code == 429
    _nothing_activated(client, demo_accounts)


def test_step_2_is_rate_limited_per_address(client, demo_accounts):
    code = _started(client)
    for _ in range(20):
        assert client.post(CODE, _step2("x"), REMOTE_ADDR="10.0.5.1").status_code in (200, 429)
    assert client.post(CODE, _step2(code), REMOTE_ADDR="10.0.5.1").status_code == 429


FIELD = st.text(max_size=40)


def _control(data: dict) -> bool:
    return any(has_control_characters(value) for value in data.values())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    step1=st.fixed_dictionaries(
        {},
        optional={
            "id_number": FIELD | st.just(XIAOMING) | st.just(XIAOMING.lower()),
            "name": FIELD | st.just("王小明"),
            "phone": FIELD | st.just(XIAOMING_PHONE),
        },
    ),
    step2=st.fixed_dictionaries(
        {},
        optional={
            "code": FIELD | st.from_regex(r"\A[0-9 ]{6,8}\Z"),
            "password1": FIELD | st.just(PASSWORD),
            "password2": FIELD | st.just(PASSWORD),
        },
    ),
)
def test_generated_input_to_both_steps_never_500s_and_activates_nothing(
    demo_accounts, step1, step2
):
    with transaction.atomic():  # each example starts from the same state
        cache.clear()
        sms.outbox.clear()
        client = Client()
        # A control character anywhere is the 400 page (accounts.middleware), else a form.
        started = client.post(START, step1).status_code
        assert (started == 400) if _control(step1) else (started in (200, 302))
        if "activation" not in client.session:
            _started(client)
        real = sms_code(XIAOMING_PHONE)
        assume("".join(step2.get("code", "").split()) != real)
        response = client.post(CODE, step2)
        assert response.status_code == (400 if _control(step2) else 200)
        assert client.post(RESEND).status_code == 302
        assert InsuredPerson.objects.get(pk=demo_accounts["王小明"].pk).user_id is None
        assert "_auth_user_id" not in client.session
        transaction.set_rollback(True)
