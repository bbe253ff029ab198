"""Writes of the wallet (R23): open (确认使用钱包) and close. Each runs in one transaction with
the rows it changes locked, and is audited (R20) with before and after snapshots."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry, InsuredPerson, User
from accounts.services import snapshot
from accounts.services.audit import audit_record

from ..errors import (
    WALLET_ALREADY_OPEN,
    WALLET_NOT_YOURS,
    WALLET_PHONE_NOT_CONFIRMED,
    WALLET_PLACE_NOT_CONFIRMED,
)
from ..models import Wallet
from ..selectors import close_refusal, open_refusal


def _check_actor(person: InsuredPerson, actor: User, channel: str) -> None:
    """Online, only the person themselves opens or closes their wallet."""
    if channel == AuditEntry.Channel.ONLINE and (
        actor is None or not actor.is_authenticated or actor.pk != person.user_id
    ):
        raise ValidationError(WALLET_NOT_YOURS, code="wallet_not_yours")


def _lock_person(person: InsuredPerson) -> InsuredPerson:
    """The person's row, locked (NO KEY, of that row only, as the family services lock people):
    two opens of one person queue, while settlements' key-share locks on it do not wait."""
    return (
        InsuredPerson.objects.select_for_update(no_key=True, of=("self",))
        .select_related("region")
        .get(pk=person.pk)
    )


def wallet_open(
    *,
    person: InsuredPerson,
    actor: User,
    channel: str,
    confirm_place: bool,
    confirm_phone: bool,
    at: dt.datetime | None = None,
) -> Wallet:
    """R23: open the person's wallet once they have confirmed their insured place and phone,
    if their region offers wallets and they are in normal status. A closed wallet reopens (the
    same row); an open one is refused, so a double submit opens one wallet."""
    _check_actor(person, actor, channel)
    if not confirm_place:
        raise ValidationError(WALLET_PLACE_NOT_CONFIRMED, code="wallet_place_not_confirmed")
    if not confirm_phone:
        raise ValidationError(WALLET_PHONE_NOT_CONFIRMED, code="wallet_phone_not_confirmed")
    at = at or timezone.now()
    with transaction.atomic():
        person = _lock_person(person)
        wallet = Wallet.objects.select_for_update().filter(person_id=person.pk).first()
        refusal = open_refusal(person=person, wallet=wallet)
        if refusal is not None:
            raise refusal
        if wallet is None:
            before = None
            try:
                with transaction.atomic():
                    wallet = Wallet.objects.create(person=person, opened_at=at)
            except IntegrityError as exc:  # the person lock makes this unreachable; kept honest
                raise ValidationError(WALLET_ALREADY_OPEN, code="wallet_already_open") from exc
        else:
            before = snapshot(wallet)
            wallet.status = Wallet.Status.OPEN
            wallet.opened_at = at
            wallet.closed_at = None
            wallet.save(update_fields=["status", "opened_at", "closed_at", "updated_at"])
        audit_record(
            actor=actor,
            channel=channel,
            action="wallet.open",
            obj=wallet,
            person=person,
            before=before,
            after=snapshot(wallet),
        )
    return wallet


def wallet_close(
    *, person: InsuredPerson, actor: User, channel: str, at: dt.datetime | None = None
) -> Wallet:
    """R23: close the person's open wallet, only when it is empty and nothing is pending
    (`wallet.selectors.close_refusal`). The row stays, closed, and can be reopened."""
    _check_actor(person, actor, channel)
    at = at or timezone.now()
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().filter(person_id=person.pk).first()
        refusal = close_refusal(wallet=wallet)
        if refusal is not None:
            raise refusal
        assert wallet is not None  # close_refusal refuses a missing wallet
        before = snapshot(wallet)
        wallet.status = Wallet.Status.CLOSED
        wallet.closed_at = at
        wallet.save(update_fields=["status", "closed_at", "updated_at"])
        audit_record(
            actor=actor,
            channel=channel,
            action="wallet.close",
            obj=wallet,
            person=person,
            before=before,
            after=snapshot(wallet),
        )
    return wallet
