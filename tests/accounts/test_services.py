import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts import services, sms
from accounts.models import AuditEntry, InsuredPerson, PhoneCode, User
from tests.factories import (
    InsuredPersonFactory,
    RegionPolicyFactory,
    citizen_activate,
    sms_code,
)

PASSWORD = "Gongji-2025!"


@pytest.fixture
def person(db):
    return InsuredPersonFactory(name="王建国", id_number="32010219750312123X", phone="13800000001")


def _activate(person, **changes):
    """Both steps, as the page does them: step 1, the code from the SMS, step 2."""
    values = {
        "id_number": person.id_number,
        "name": person.name,
        "phone": person.phone,
        "password": PASSWORD,
        **changes,
    }
    return citizen_activate(**values)


def test_activation_links_a_new_user_and_audits_it(person):  # R20
    user = _activate(person, id_number="32010219750312123x")
    person.refresh_from_db()
    assert person.user == user
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    entry = AuditEntry.objects.get(action="person.activate")
    assert (entry.actor, entry.person, entry.channel) == (user, person, "online")
    assert entry.before["user"] is None
    assert entry.after["user"] == user.pk
    assert entry.after["id_number"] == "3201**********123X"  # never the full number in the trail
    assert PhoneCode.objects.get().used_at is not None


def test_knowing_number_name_and_phone_activates_nothing(person):
    """Step 1 only sends a code to the registered phone; without it nothing is activated."""
    sent = services.activation_start(
        id_number=person.id_number, name=person.name, phone=person.phone
    )
    assert (sent.person, sent.masked_phone) == (person, "138****0001")
    assert [m.phone for m in sms.outbox] == ["13800000001"]
    person.refresh_from_db()
    assert person.user is None
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "王建"},
        {"phone": "13800000002"},
        {"id_number": "320104197708252463"},  # valid, but nobody registered it
    ],
)
def test_activation_with_mismatching_data_is_refused_and_changes_nothing(person, changes):
    values = {"id_number": person.id_number, "name": person.name, "phone": person.phone}
    with pytest.raises(ValidationError) as exc:
        services.activation_start(**{**values, **changes})
    assert exc.value.messages == [str(services.ACTIVATION_MISMATCH)]
    person.refresh_from_db()
    assert person.user is None
    assert User.objects.count() == 0
    assert sms.outbox == []
    assert PhoneCode.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_second_activation_is_refused(person):
    _activate(person)
    with pytest.raises(ValidationError) as exc:
        _activate(person, password="Another-2025!")
    assert exc.value.messages == [str(services.ACTIVATION_ALREADY_DONE)]
    assert User.objects.count() == 1


def test_terminated_person_cannot_activate(person):
    InsuredPerson.objects.filter(pk=person.pk).update(status=InsuredPerson.Status.TERMINATED)
    with pytest.raises(ValidationError) as exc:
        _activate(person)
    assert exc.value.messages == [str(services.ACTIVATION_TERMINATED)]
    assert sms.outbox == []


def test_a_person_terminated_after_step_1_cannot_finish(person):
    services.activation_start(id_number=person.id_number, name=person.name, phone=person.phone)
    InsuredPerson.objects.filter(pk=person.pk).update(status=InsuredPerson.Status.TERMINATED)
    with pytest.raises(ValidationError) as exc:
        services.citizen_activate(person=person, code=sms_code(person.phone), password=PASSWORD)
    assert exc.value.messages == [str(services.ACTIVATION_TERMINATED)]
    assert User.objects.count() == 0


@pytest.mark.parametrize("weak", ["12345678", "password", "abc"])
def test_weak_password_is_refused_by_the_service_too_and_keeps_the_code(person, weak):
    services.activation_start(id_number=person.id_number, name=person.name, phone=person.phone)
    code = sms_code(person.phone)
    with pytest.raises(ValidationError):
        services.citizen_activate(person=person, code=code, password=weak)
    assert User.objects.count() == 0
    assert PhoneCode.objects.get().used_at is None
    services.citizen_activate(person=person, code=code, password=PASSWORD)
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_activations_with_the_code_create_one_user():
    person = InsuredPersonFactory(region=RegionPolicyFactory())
    services.activation_start(id_number=person.id_number, name=person.name, phone=person.phone)
    code = sms_code(person.phone)
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt():
        try:
            barrier.wait()
            services.citizen_activate(person=person, code=code, password=PASSWORD)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(["ok", str(services.ACTIVATION_ALREADY_DONE)])
    assert User.objects.filter(insured_person=person).count() == 1
    assert User.objects.count() == 1


def test_register_derives_facts_and_audits(db):
    region = RegionPolicyFactory()
    person = services.insured_person_register(
        name=" 李秀英 ",
        id_number="320104197708252463",
        phone="13800000002",
        region=region,
        scheme=InsuredPerson.Scheme.EMPLOYEE,
        actor=None,
        channel=AuditEntry.Channel.SYSTEM,
    )
    assert (person.name, person.sex, str(person.birth_date)) == ("李秀英", "F", "1977-08-25")
    assert AuditEntry.objects.filter(action="person.register", person=person).count() == 1


def test_register_refuses_a_wrong_check_digit_and_writes_nothing(db):
    with pytest.raises(ValidationError) as exc:
        services.insured_person_register(
            name="李秀英",
            id_number="320104197708252464",
            phone="13800000002",
            region=RegionPolicyFactory(),
            scheme=InsuredPerson.Scheme.EMPLOYEE,
            actor=None,
            channel=AuditEntry.Channel.SYSTEM,
        )
    assert "id_number" in exc.value.message_dict
    assert InsuredPerson.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_password_change_is_audited(person):
    user = _activate(person)
    services.user_password_change(user=user, password="Xin-mima-2026!", channel="online")
    user.refresh_from_db()
    assert user.check_password("Xin-mima-2026!")
    entry = AuditEntry.objects.get(action="user.password_change")
    assert (entry.actor, entry.person) == (user, person)
