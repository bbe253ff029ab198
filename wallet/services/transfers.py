"""Transfers (R24, R25): send from a personal account to a relative's open wallet, accept,
decline, and the 06:00 return of what nobody answered.

Money and locks, as everywhere in the ledger:
- sending takes the sender's personal account (then the recipient's wallet row) and moves the
  amount into the sender region's in-flight account: on neither side's spendable balance;
- accepting moves it from in flight to that region's wallet-funds account and into the wallet's
  holding for that region (the region still owes it, R23, R27); declining and returning move it
  back to the sender's personal account;
- a transfer row is locked before any account or wallet (accept, decline, return), an account
  before a wallet (send, settlements): no two of them can wait on each other in a cycle;
- each ledger movement has a key made of the transfer and the step, unique in the ledger: a step
  is written once whatever retries; a send is found again by its idempotency key;
- every change is audited (R20) and told (R25) in the same transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import idnumber, notices
from accounts.models import AuditEntry, InsuredPerson, Notification, User
from accounts.services import Notice, notifications_send
from accounts.services.audit import audit_record
from family.models import Relation
from family.verification import get_verifier
from payments.models import LedgerAccount, LedgerTransaction
from payments.services import ledger

from ..errors import (
    TRANSFER_ABOVE_AVAILABLE,
    TRANSFER_ANSWER_LATE,
    TRANSFER_DAILY_LIMIT,
    TRANSFER_INVALID_RELATION,
    TRANSFER_KEY_REUSED,
    TRANSFER_NOT_FOR_YOU,
    TRANSFER_NOT_PENDING,
    TRANSFER_NOT_YOURS,
    TRANSFER_PENDING,
    TRANSFER_RECIPIENT_NOT_FOUND,
    TRANSFER_SENDER_NOT_EMPLOYEE,
    TRANSFER_SENDER_NOT_NORMAL,
    TRANSFER_TO_SELF,
    TRANSFER_VERIFICATION_FAILED,
    TRANSFER_WALLET_NOT_OPEN,
)
from ..models import TRANSFERS_PER_DAY, Entry, Holding, Transfer, Wallet
from ..rules import amount_refusal, amount_value, answer_by, night_refusal
from ..selectors.transfers import pending_sent, sent_on_day, transferable

Kind = LedgerAccount.Kind
Status = Transfer.Status


def _is_person(actor: User | None, person: InsuredPerson) -> bool:
    return actor is not None and actor.is_authenticated and actor.pk == person.user_id


def transfer_recipient(*, sender: InsuredPerson, name: str, id_number: str) -> InsuredPerson:
    """R24: the register's person with this name and identity number. One message whether the
    number is unknown or the name does not match: the form reveals nobody's registration."""
    number = idnumber.normalize(id_number or "")
    recipient = InsuredPerson.objects.filter(id_number=number, name=(name or "").strip()).first()
    if recipient is None:
        raise ValidationError(TRANSFER_RECIPIENT_NOT_FOUND, code="transfer_recipient_not_found")
    if recipient.pk == sender.pk:
        raise ValidationError(TRANSFER_TO_SELF, code="transfer_to_self")
    return recipient


def _check_sender(sender: InsuredPerson) -> None:
    if sender.scheme != InsuredPerson.Scheme.EMPLOYEE:
        raise ValidationError(TRANSFER_SENDER_NOT_EMPLOYEE, code="transfer_sender_not_employee")
    if sender.status != InsuredPerson.Status.NORMAL:
        raise ValidationError(TRANSFER_SENDER_NOT_NORMAL, code="transfer_sender_not_normal")


def transfer_send(
    *,
    sender: InsuredPerson,
    actor: User,
    channel: str,
    recipient: InsuredPerson,
    relation: str,
    amount: Decimal | str,
    idempotency_key: str,
    at: dt.datetime | None = None,
    evidence: str | None = None,
) -> tuple[Transfer, bool]:
    """R24: send `amount` (a Decimal, or the text typed: `wallet.rules.amount_refusal`) to
    `recipient`'s open wallet; returns (transfer, created). The same idempotency key again
    returns the first transfer (created=False), whatever it became.

    `evidence`: the password the sender typed again on the confirmation page (the online page
    always passes it; `family.verification` checks it, as for a consent answer). It is checked
    before anything else is looked at, so a wrong one learns nothing."""
    if channel == AuditEntry.Channel.ONLINE and not _is_person(actor, sender):
        raise ValidationError(TRANSFER_NOT_YOURS, code="transfer_not_yours")
    if evidence is not None and not get_verifier().verify(user=actor, evidence=evidence):
        raise ValidationError(TRANSFER_VERIFICATION_FAILED, code="transfer_verification_failed")
    found = Transfer.objects.filter(sender=sender, idempotency_key=idempotency_key).first()
    if found is not None:
        return _same_request(found, recipient=recipient, amount=amount), False
    at = at or timezone.now()
    _check_sender(sender)
    if recipient.pk == sender.pk:
        raise ValidationError(TRANSFER_TO_SELF, code="transfer_to_self")
    if relation not in Relation.values:
        raise ValidationError(TRANSFER_INVALID_RELATION, code="transfer_invalid_relation")
    for refusal in (amount_refusal(amount), night_refusal(at)):
        if refusal is not None:
            raise refusal
    amount = amount_value(amount)
    with transaction.atomic(durable=True):
        account_id = ledger.personal_account_for(sender).pk
        account = ledger.accounts_lock([account_id])[account_id]
        # Under the sender's account lock: a second send of the same key waited here, and now
        # finds the first; two sends of one person are counted one after the other.
        found = Transfer.objects.filter(sender=sender, idempotency_key=idempotency_key).first()
        if found is not None:
            return _same_request(found, recipient=recipient, amount=amount), False
        sender.refresh_from_db(fields=["status", "scheme"])
        _check_sender(sender)
        wallet = (
            Wallet.objects.select_for_update(no_key=True).filter(person_id=recipient.pk).first()
        )
        if wallet is None or not wallet.is_open:
            raise ValidationError(TRANSFER_WALLET_NOT_OPEN, code="transfer_wallet_not_open")
        if pending_sent(sender=sender) is not None:
            raise ValidationError(TRANSFER_PENDING, code="transfer_pending")
        if sent_on_day(sender=sender, at=at) >= TRANSFERS_PER_DAY:
            raise ValidationError(TRANSFER_DAILY_LIMIT, code="transfer_daily_limit")
        available, floor = transferable(account=account, sender=sender)
        if amount > available:
            raise ValidationError(
                TRANSFER_ABOVE_AVAILABLE,
                code="transfer_above_available",
                params={"available": f"{available:.2f}", "floor": f"{floor:.2f}"},
            )
        transfer = Transfer(
            sender=sender,
            sender_account=account,
            owing_region_id=sender.region_id,
            wallet=wallet,
            relation=relation,
            amount=amount,
            sent_at=at,
            answer_by=answer_by(at),
            idempotency_key=idempotency_key,
        )
        transfer.send_transaction = ledger.transaction_post(
            kind=LedgerTransaction.Kind.TRANSFER_SEND,
            description=f"医保钱包转账 转给{recipient.masked_name}",
            occurred_at=at,
            idempotency_key=f"transfer:{transfer.public_id}:send",
            legs=[
                (account, -amount),
                (ledger.bureau_account(Kind.WALLET_IN_FLIGHT, sender.region_id), amount),
            ],
        )
        transfer.save()
        audit_record(
            actor=actor,
            channel=channel,
            action="wallet.transfer_send",
            obj=transfer,
            person=sender,
            after=_snapshot(transfer),
        )
        notifications_send(notices=[_notice(transfer, Notification.Kind.TRANSFER_RECEIVED)], at=at)
    return transfer, True


def _same_request(found: Transfer, *, recipient: InsuredPerson, amount) -> Transfer:
    """A replay answers with the first transfer only if it asks the same (recipient, amount):
    the same key with another request is refused, as the settlement API refuses it."""
    same_amount = amount_refusal(amount) is None and amount_value(amount) == found.amount
    if found.wallet.person_id != recipient.pk or not same_amount:
        raise ValidationError(TRANSFER_KEY_REUSED, code="transfer_key_reused")
    return found


def _snapshot(transfer: Transfer) -> dict:
    return {
        "status": transfer.status,
        "amount": f"{transfer.amount:.2f}",
        "sender": transfer.sender.masked_name,
        "recipient": transfer.wallet.person.masked_name,
        "owing_region": transfer.owing_region_id,
        "answer_by": transfer.answer_by.isoformat(),
    }


def _notice(transfer: Transfer, kind: str, *, role: str | None = None) -> Notice:
    """R25: the recipient is asked (received), the sender told how it ended; a return tells
    both (role chooses the side)."""
    to_recipient = kind == Notification.Kind.TRANSFER_RECEIVED or role == notices.MEMBER
    recipient = transfer.wallet.person
    return Notice(
        recipient_id=recipient.pk if to_recipient else transfer.sender_id,
        kind=kind,
        key=f"transfer:{transfer.public_id}:{kind}",
        params={
            "role": notices.MEMBER if to_recipient else notices.HOLDER,
            "holder": transfer.sender.masked_name,
            "member": recipient.masked_name,
            "amount": f"{transfer.amount:.2f}",
            "at": notices.iso(transfer.sent_at),
            "deadline": notices.iso(transfer.answer_by),
        },
        link=reverse("wallet:transfers"),
    )


def _locked_transfer(transfer: Transfer) -> Transfer:
    return (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("sender", "wallet__person", "owing_region")
        .get(pk=transfer.pk)
    )


def _check_answer(transfer: Transfer, actor: User | None, channel: str, at: dt.datetime) -> None:
    if channel == AuditEntry.Channel.ONLINE and not _is_person(actor, transfer.wallet.person):
        raise ValidationError(TRANSFER_NOT_FOR_YOU, code="transfer_not_for_you")
    if transfer.status != Status.PENDING:
        raise ValidationError(TRANSFER_NOT_PENDING, code="transfer_not_pending")
    if at >= transfer.answer_by:
        raise ValidationError(TRANSFER_ANSWER_LATE, code="transfer_answer_late")


def transfer_accept(
    *, transfer: Transfer, actor: User, channel: str, at: dt.datetime | None = None
) -> Transfer:
    """R25: the recipient accepts; the money joins their wallet, owed by the sender's region.
    Accepting an accepted transfer again changes nothing and answers with it."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        transfer = _locked_transfer(transfer)
        if transfer.status == Status.ACCEPTED and (
            channel != AuditEntry.Channel.ONLINE or _is_person(actor, transfer.wallet.person)
        ):
            return transfer
        _check_answer(transfer, actor, channel, at)
        wallet = Wallet.objects.select_for_update().get(pk=transfer.wallet_id)
        region_id = transfer.owing_region_id
        entry = ledger.transaction_post(
            kind=LedgerTransaction.Kind.TRANSFER_ACCEPT,
            description=f"医保钱包转账 {transfer.sender.masked_name}转入",
            occurred_at=at,
            idempotency_key=f"transfer:{transfer.public_id}:accept",
            legs=[
                (ledger.bureau_account(Kind.WALLET_IN_FLIGHT, region_id), -transfer.amount),
                (ledger.bureau_account(Kind.WALLET_FUNDS, region_id), transfer.amount),
            ],
        )
        holding, _created = Holding.objects.select_for_update().get_or_create(
            wallet=wallet, region_id=region_id
        )
        holding.balance += transfer.amount
        holding.save(update_fields=["balance"])
        wallet.balance += transfer.amount
        wallet.save(update_fields=["balance", "updated_at"])
        Entry.objects.create(
            wallet=wallet,
            kind=Entry.Kind.TRANSFER_IN,
            amount=transfer.amount,
            balance_after=wallet.balance,
            owing_region_id=region_id,
            transfer=transfer,
            description=f"转账入账 {transfer.sender.masked_name}",
            occurred_at=at,
        )
        _finish(transfer, Status.ACCEPTED, entry, actor=actor, channel=channel, at=at)
        notifications_send(notices=[_notice(transfer, Notification.Kind.TRANSFER_ACCEPTED)], at=at)
    return transfer


def transfer_decline(
    *, transfer: Transfer, actor: User, channel: str, at: dt.datetime | None = None
) -> Transfer:
    """R25: the recipient declines; the money goes back to the sender's personal account."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        transfer = _locked_transfer(transfer)
        if transfer.status == Status.DECLINED and (
            channel != AuditEntry.Channel.ONLINE or _is_person(actor, transfer.wallet.person)
        ):
            return transfer
        _check_answer(transfer, actor, channel, at)
        account = ledger.accounts_lock([transfer.sender_account_id])[transfer.sender_account_id]
        entry = ledger.transaction_post(**_back_movement(transfer, account, "decline", at))
        _finish(transfer, Status.DECLINED, entry, actor=actor, channel=channel, at=at)
        notifications_send(notices=[_notice(transfer, Notification.Kind.TRANSFER_DECLINED)], at=at)
    return transfer


def _back_movement(transfer: Transfer, account: LedgerAccount, step: str, at) -> dict:
    """The ledger movement that gives a declined or returned transfer back to its sender."""
    return {
        "kind": LedgerTransaction.Kind.TRANSFER_RETURN,
        "description": f"医保钱包转账退回 {transfer.wallet.person.masked_name}"
        + ("拒收" if step == "decline" else "逾期未接收"),
        "occurred_at": at,
        "idempotency_key": f"transfer:{transfer.public_id}:{step}",
        "legs": [
            (ledger.bureau_account(Kind.WALLET_IN_FLIGHT, transfer.owing_region_id),
             -transfer.amount),
            (account, transfer.amount),
        ],
    }  # fmt: skip


def _finish(transfer, status, entry, *, actor, channel, at) -> None:
    before = _snapshot(transfer)
    transfer.status = status
    transfer.finished_at = at
    transfer.finish_transaction = entry
    transfer.save(update_fields=["status", "finished_at", "finish_transaction"])
    audit_record(
        actor=actor,
        channel=channel,
        action=f"wallet.transfer_{status}",
        obj=transfer,
        person=transfer.wallet.person,
        before=before,
        after=_snapshot(transfer),
    )
