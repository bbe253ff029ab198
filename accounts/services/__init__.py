"""Every write of the accounts app. Each service is one transaction and audits itself (R20).

A package: the audit writer (`audit`) and phone-verification codes (`phone_codes`) are modules of
their own; import everything from here."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import idnumber, notices, selectors
from ..models import AuditEntry, InsuredPerson, Notification, PhoneCode, RegionPolicy, User
from .audit import audit_record
from .phone_codes import (  # noqa: F401
    CODE_VALIDITY,
    PHONE_CODE_DAILY_LIMIT,
    PHONE_CODE_EXPIRED,
    PHONE_CODE_INVALID,
    PHONE_CODE_SEND_FAILED,
    PHONE_CODE_TOO_MANY_WRONG,
    PHONE_CODE_TOO_SOON,
    PHONE_CODE_WRONG,
    RESEND_AFTER,
    PhoneCodeSent,
    phone_code_send,
    phone_code_verify,
)

logger = logging.getLogger(__name__)

# The name of the task that mails pending notifications (accounts.tasks registers it).
SEND_NOTIFICATION_EMAILS_TASK = "accounts.send_notification_emails"

ACTIVATION_MISMATCH = _("身份证号码、姓名或手机号码与医保经办机构登记信息不一致，请核对后重试")
ACTIVATION_ALREADY_DONE = _("该参保人已激活网上服务账号，请直接登录")
ACTIVATION_TERMINATED = _("该参保人的参保关系已终止，无法激活网上服务账号")


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


def _activation_refusal(person: InsuredPerson) -> ValidationError | None:
    if person.user_id is not None:
        return ValidationError(ACTIVATION_ALREADY_DONE, code="activation_done")
    if person.status == InsuredPerson.Status.TERMINATED:
        return ValidationError(ACTIVATION_TERMINATED, code="activation_terminated")
    return None


def activation_start(
    *, id_number: str, name: str, phone: str, at: dt.datetime | None = None
) -> PhoneCodeSent:
    """Step 1 of activation: identity number, name and phone must all match the bureau's record
    (the message never says which one did not, so the form cannot probe the register); then a
    code goes by SMS to the registered phone. Knowing the three proves nothing yet: step 2
    (`citizen_activate`) needs the code."""
    person = (
        InsuredPerson.objects.select_related("region")
        .filter(id_number=idnumber.normalize(id_number))
        .first()
    )
    if person is None or person.name != name.strip() or person.phone != phone.strip():
        raise ValidationError(ACTIVATION_MISMATCH, code="activation_mismatch")
    return activation_code_send(person=person, at=at)


def activation_code_send(*, person: InsuredPerson, at: dt.datetime | None = None) -> PhoneCodeSent:
    """A (new) activation code for a person who passed step 1: the resend button."""
    refusal = _activation_refusal(person)
    if refusal is not None:
        raise refusal
    return phone_code_send(person=person, purpose=PhoneCode.Purpose.ACTIVATE, at=at)


def citizen_activate(
    *, person: InsuredPerson, code: str, password: str, at: dt.datetime | None = None
) -> User:
    """Step 2 of activation: the code sent to the registered phone (`activation_start`) and a
    password. The person gets a login and the code is used up, in one transaction; a wrong code
    is counted even so (the block ends normally and the refusal is raised after it)."""
    refusal = None
    with transaction.atomic():
        person = (
            InsuredPerson.objects.select_for_update(no_key=True, of=("self",))
            .select_related("region")
            .get(pk=person.pk)
        )
        early = _activation_refusal(person)
        if early is not None:
            raise early
        user = User(username=f"c_{uuid.uuid4().hex}", first_name=person.name)
        validate_password(password, user=user)
        try:
            phone_code_verify(person=person, purpose=PhoneCode.Purpose.ACTIVATE, code=code, at=at)
        except ValidationError as exc:
            refusal = exc
        else:
            before = person_snapshot(person)
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
    if refusal is not None:
        raise refusal
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


def snapshot_values(model: Any, values: dict) -> dict:
    """`snapshot` of a row read with `.values(<attnames>)`, for set-based writers."""
    data = {}
    for field in model._meta.concrete_fields:
        if field.attname not in values or field.name == "password":
            continue
        value = values[field.attname]
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


# ---------------------------------------------------------------------------------------------
# notifications (站内信 and e-mail, issue 5)


@dataclass(frozen=True)
class Notice:
    """One notification to write. `key` names the event (e.g. `authorization:<id>:expired`);
    the same key for the same recipient is written once, ever."""

    recipient_id: int
    kind: str
    key: str
    params: dict
    link: str = ""


def notifications_send(*, notices: Iterable[Notice], at: dt.datetime | None = None) -> None:
    """Write notifications in the caller's transaction (once each: ON CONFLICT DO NOTHING on
    `(recipient, key)`), and after commit ask a worker to mail them."""
    at = at or timezone.now()
    rows = [
        Notification(
            recipient_id=n.recipient_id,
            kind=n.kind,
            key=n.key[:160],
            params=n.params,
            link=n.link,
            created_at=at,
        )
        for n in notices
    ]
    if not rows:
        return
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    notification_emails_enqueue()


def notification_emails_enqueue() -> None:
    """After the caller's commit, ask a worker to mail pending notifications (for writers that
    insert them in SQL: once per pass, not once per batch)."""
    # Tasks import services, not the reverse: the mail task is found by its name in the Celery
    # registry (accounts.tasks is imported by AccountsConfig.ready, and by a worker's discovery).
    current_app.tasks[SEND_NOTIFICATION_EMAILS_TASK].delay_on_commit()


def notification_emails_send(*, batch_size: int = 100) -> int:
    """Mail pending notifications, each at most once; returns how many were sent.

    A batch is claimed under `SKIP LOCKED` and marked `sending` in its own short transaction, so
    two workers never take the same row; mail leaves after that commit. A worker that dies while
    sending leaves rows `sending`, which staff see in the admin: they are not mailed again (once,
    not twice, is the promise). No address on file: `no_address`, the inbox still has it."""
    status = Notification.EmailStatus
    sent = 0
    while True:
        with transaction.atomic():
            claimed = list(
                Notification.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient__user")
                .filter(email_status=status.PENDING)
                .order_by("pk")[:batch_size]
            )
            if not claimed:
                return sent
            addressed = [
                n for n in claimed if n.recipient.user is not None and n.recipient.user.email
            ]
            Notification.objects.filter(
                pk__in=[n.pk for n in claimed if n not in addressed]
            ).update(email_status=status.NO_ADDRESS)
            Notification.objects.filter(pk__in=[n.pk for n in addressed]).update(
                email_status=status.SENDING
            )
        connection = mail.get_connection()
        for notification in addressed:
            with translation.override(settings.LANGUAGE_CODE):
                title, body = notices.render(notification)
                footer = gettext("本邮件由系统自动发送，请登录平台查看站内信详情，请勿回复。")
            try:
                user = notification.recipient.user
                assert user is not None  # addressed: only recipients with a login and an address
                mail.EmailMessage(
                    subject=title,
                    body=f"{notification.recipient.name}：\n\n{body}\n\n{footer}",
                    to=[user.email],
                    connection=connection,
                ).send()
            except Exception:
                logger.exception("Mail of notification %s failed", notification.public_id)
                outcome = status.FAILED
            else:
                outcome = status.SENT
                sent += 1
            Notification.objects.filter(pk=notification.pk, email_status=status.SENDING).update(
                email_status=outcome, emailed_at=timezone.now()
            )


def notification_mark_read(*, notification: Notification, at: dt.datetime | None = None) -> None:
    """Reading is the reader's own view state, not a change of business state: not audited."""
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=at or timezone.now()
    )


def notifications_mark_all_read(*, person: InsuredPerson, at: dt.datetime | None = None) -> int:
    return Notification.objects.filter(recipient=person, read_at__isnull=True).update(
        read_at=at or timezone.now()
    )


# ---------------------------------------------------------------------------------------------
# the audit trail's own export (issue 6)


def audit_export_record(*, actor: User, filters: selectors.AuditFilters, rows: int) -> AuditEntry:
    """R20: the export itself is audited, with its filters (identity number masked) and rows.
    The entry concerns the trail, not one row: an unsaved AuditEntry gives its type, no id; it
    has no person, so only superusers see it in the browser."""
    with transaction.atomic():
        return audit_record(
            actor=actor,
            channel=AuditEntry.Channel.ADMIN,
            action="audit.export",
            obj=AuditEntry(),
            after={"filters": filters.for_audit(), "rows": rows},
        )
