"""Writes of the wallet (R23): open (确认使用钱包) and close. Each runs in one transaction with
the rows it changes locked, and is audited (R20) with before and after snapshots.

Online only the person themselves acts. At the counter (R18) a clerk acts for them: staff with
the wallet permission, of the person's region, who name the identity documents they saw (a
居民身份证 or 社会保障卡 of the person, as the counter binding records them); those documents go
into the audit entry's `after` as `documents_seen`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEntry, InsuredPerson, User
from accounts.selectors import region_in_staff_scope
from accounts.services import snapshot
from accounts.services.audit import audit_record
from family.models import CounterBinding

from ..errors import (
    WALLET_ALREADY_OPEN,
    WALLET_COUNTER_NOT_ALLOWED,
    WALLET_DOCS_INVALID,
    WALLET_DOCS_MISSING,
    WALLET_NOT_YOURS,
    WALLET_OUT_OF_REGION,
    WALLET_PHONE_NOT_CONFIRMED,
    WALLET_PLACE_NOT_CONFIRMED,
)
from ..models import Wallet
from ..selectors import close_refusal, open_refusal

# The permission a clerk needs to open or close a wallet at the counter (R18, R23).
COUNTER_PERMISSION = "wallet.change_wallet"
# What a clerk may have seen of the person: the identity cards the counter binding knows.
COUNTER_CARDS = CounterBinding.Card


def _check_actor(
    person: InsuredPerson, actor: User, channel: str, documents_seen: Sequence[str]
) -> list[str]:
    """Who may open or close the person's wallet, through which channel. Online, only the person
    themselves; at the counter (R18), active staff with the wallet permission and the person's
    region, who saw at least one of the person's cards. Returns the cards seen (sorted; empty
    off the counter)."""
    if channel == AuditEntry.Channel.ONLINE and (
        actor is None or not actor.is_authenticated or actor.pk != person.user_id
    ):
        raise ValidationError(WALLET_NOT_YOURS, code="wallet_not_yours")
    if channel != AuditEntry.Channel.COUNTER:
        return []
    if not (
        actor is not None
        and actor.is_authenticated
        and actor.is_active
        and actor.is_staff
        and actor.has_perm(COUNTER_PERMISSION)
    ):
        raise ValidationError(WALLET_COUNTER_NOT_ALLOWED, code="wallet_counter_not_allowed")
    if not region_in_staff_scope(user=actor, region_id=person.region_id):
        raise ValidationError(WALLET_OUT_OF_REGION, code="wallet_out_of_region")
    seen = sorted(set(documents_seen or ()))
    if not seen:
        raise ValidationError(WALLET_DOCS_MISSING, code="wallet_docs_missing")
    if not set(seen) <= set(COUNTER_CARDS.values):
        raise ValidationError(WALLET_DOCS_INVALID, code="wallet_docs_invalid")
    return seen


def _after(wallet: Wallet, documents_seen: list[str]) -> dict:
    """The audit entry's `after`: the wallet, and at the counter the documents seen (R18)."""
    after = snapshot(wallet)
    if documents_seen:
        after["documents_seen"] = documents_seen
    return after


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
    documents_seen: Sequence[str] = (),
    at: dt.datetime | None = None,
) -> Wallet:
    """R23: open the person's wallet once they have confirmed their insured place and phone,
    if their region offers wallets and they are in normal status. A closed wallet reopens (the
    same row); an open one is refused, so a double submit opens one wallet. At the counter the
    clerk names the cards they saw (`documents_seen`, values of `COUNTER_CARDS`; R18)."""
    seen = _check_actor(person, actor, channel, documents_seen)
    if not confirm_place:
        raise ValidationError(WALLET_PLACE_NOT_CONFIRMED, code="wallet_place_not_confirmed")
    if not confirm_phone:
        raise ValidationError(WALLET_PHONE_NOT_CONFIRMED, code="wallet_phone_not_confirmed")
    at = at or timezone.now()
    with transaction.atomic(durable=True):
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
            after=_after(wallet, seen),
        )
    return wallet


def wallet_close(
    *,
    person: InsuredPerson,
    actor: User,
    channel: str,
    documents_seen: Sequence[str] = (),
    at: dt.datetime | None = None,
) -> Wallet:
    """R23: close the person's open wallet, only when it is empty and nothing is pending
    (`wallet.selectors.close_refusal`). The row stays, closed, and can be reopened. At the
    counter, as for opening, the clerk names the cards they saw (R18)."""
    seen = _check_actor(person, actor, channel, documents_seen)
    at = at or timezone.now()
    with transaction.atomic(durable=True):
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
            after=_after(wallet, seen),
        )
    return wallet
