"""factory_boy factories. People are registered with valid GB 11643 identity numbers."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import factory

from accounts import idnumber, services, sms
from accounts.models import InsuredPerson, RegionPolicy, User

_sequence = itertools.count(1)


def make_id_number(
    region_code: str = "320100", birth: dt.date = dt.date(1980, 1, 1), seq: int | None = None
) -> str:
    """A valid identity number; `seq` (1..999) makes it unique, odd = male."""
    seq = next(_sequence) % 999 + 1 if seq is None else seq
    first17 = f"{region_code}{birth:%Y%m%d}{seq:03d}"
    return first17 + idnumber.check_char(first17)


class RegionPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionPolicy
        django_get_or_create = ("code",)

    code = "320100"
    name = "南京市"


class InsuredPersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InsuredPerson

    name = factory.Sequence(lambda n: f"参保人{n}")
    region = factory.SubFactory(RegionPolicyFactory)
    id_number = factory.LazyAttribute(lambda o: make_id_number(o.region.code))
    birth_date = factory.LazyAttribute(lambda o: idnumber.parse(o.id_number).birth_date)
    sex = factory.LazyAttribute(lambda o: idnumber.parse(o.id_number).sex)
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    scheme = InsuredPerson.Scheme.EMPLOYEE
    status = InsuredPerson.Status.NORMAL


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "Staff-2025!")


_CODE_IN_SMS = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


def sms_code(phone: str) -> str:
    """The code in the last SMS that the locmem backend (the test settings') sent to `phone`."""
    for message in reversed(sms.outbox):
        if message.phone == phone:
            return _CODE_IN_SMS.search(message.text).group(1)
    raise AssertionError(f"no SMS was sent to {phone}")


def citizen_activate(
    *, id_number: str, name: str, phone: str, password: str, at: dt.datetime | None = None
) -> User:
    """Activation as a citizen goes through it: step 1 (identity number, name, phone), the code
    from the SMS to the registered phone, step 2 (code and password)."""
    sent = services.activation_start(id_number=id_number, name=name, phone=phone, at=at)
    return services.citizen_activate(
        person=sent.person, code=sms_code(sent.person.phone), password=password, at=at
    )
