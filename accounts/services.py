"""Every write of the accounts app. Each service is one transaction and audits itself (R20)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from . import idnumber
from .models import AuditEntry, InsuredPerson, RegionPolicy, User

ACTIVATION_MISMATCH = _("身份证号码、姓名或手机号码与医保经办机构登记信息不一致，请核对后重试")
ACTIVATION_ALREADY_DONE = _("该参保人已激活网上服务账号，请直接登录")
ACTIVATION_TERMINATED = _("该参保人的参保关系已终止，无法激活网上服务账号")


def audit_record(
    *,
    actor: User | None,
    channel: str,
    action: str,
    obj: Any,
    person: InsuredPerson | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append one audit entry (R20). Call inside the transaction of the change it records."""
    object_id = getattr(obj, "public_id", None) or getattr(obj, "pk", None) or ""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        channel=channel,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(object_id),
        person=person,
        before=before,
        after=after,
    )


def person_snapshot(person: InsuredPerson) -> dict:
    """What an audit entry keeps of a person: no full identity number in the trail's text."""
    return {
        "name": person.name,
        "id_number": person.masked_id_number,
        "phone": person.phone,
        "region": person.region.code,
        "scheme": person.scheme,
        "status": person.status,
        "user": person.user_id,
    }


def insured_person_register(
    *,
    name: str,
    id_number: str,
    phone: str,
    region: RegionPolicy,
    scheme: str,
    status: str = InsuredPerson.Status.NORMAL,
    actor: User | None,
    channel: str,
) -> InsuredPerson:
    """The bureau registers an insured person (birth date and sex come from the number)."""
    with transaction.atomic():
        person = InsuredPerson(
            name=name.strip(),
            id_number=idnumber.normalize(id_number),
            phone=phone.strip(),
            region=region,
            scheme=scheme,
            status=status,
        )
        person.full_clean()
        person.save()
        audit_record(
            actor=actor,
            channel=channel,
            action="person.register",
            obj=person,
            person=person,
            after=person_snapshot(person),
        )
    return person


def citizen_activate(*, id_number: str, name: str, phone: str, password: str) -> User:
    """A citizen claims their insured-person record and sets a password.

    Identity number, name and phone must all match the bureau's record; the message never says
    which one did not, so the form cannot be used to probe the register."""
    number = idnumber.normalize(id_number)
    with transaction.atomic():
        person = (
            InsuredPerson.objects.select_for_update(no_key=True, of=("self",))
            .select_related("region")
            .filter(id_number=number)
            .first()
        )
        if person is None or person.name != name.strip() or person.phone != phone.strip():
            raise ValidationError(ACTIVATION_MISMATCH, code="activation_mismatch")
        if person.user_id is not None:
            raise ValidationError(ACTIVATION_ALREADY_DONE, code="activation_done")
        if person.status == InsuredPerson.Status.TERMINATED:
            raise ValidationError(ACTIVATION_TERMINATED, code="activation_terminated")
        before = person_snapshot(person)
        user = User(username=f"c_{uuid.uuid4().hex}", first_name=person.name)
        validate_password(password, user=user)
        user.set_password(password)
        user.save()
        person.user = user
        person.save(update_fields=["user", "updated_at"])
        audit_record(
            actor=user,
            channel=AuditEntry.Channel.ONLINE,
            action="person.activate",
            obj=person,
            person=person,
            before=before,
            after=person_snapshot(person),
        )
    return user


def user_password_change(*, user: User, password: str, channel: str) -> None:
    """Set a new (already validated) password and record it (R20), in one transaction."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(
            actor=user,
            channel=channel,
            action="user.password_change",
            obj=user,
            person=InsuredPerson.objects.filter(user=user).first(),
        )


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


def snapshot(obj: Any) -> dict:
    """A JSON-safe picture of a row for the audit trail; identity numbers masked."""
    data = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if field.name == "password":
            continue
        if field.name == "id_number":
            value = idnumber.mask(value)
        data[field.name] = _json_safe(value)
    return data


def admin_object_save(*, obj: Any, actor: User, change: bool) -> None:
    """Save a row edited in the Django admin and audit before/after (R20)."""
    with transaction.atomic():
        before = None
        if change and obj.pk:
            old = type(obj).objects.select_for_update(no_key=True).filter(pk=obj.pk).first()
            before = snapshot(old) if old else None
        obj.save()
        audit_record(
            actor=actor,
            channel=AuditEntry.Channel.ADMIN,
            action=f"{obj._meta.model_name}.{'change' if change else 'create'}",
            obj=obj,
            person=obj if isinstance(obj, InsuredPerson) else None,
            before=before,
            after=snapshot(obj),
        )


def admin_object_delete(*, obj: Any, actor: User) -> None:
    with transaction.atomic():
        before = snapshot(obj)
        audit_record(
            actor=actor,
            channel=AuditEntry.Channel.ADMIN,
            action=f"{obj._meta.model_name}.delete",
            obj=obj,
            before=before,
        )
        obj.delete()
