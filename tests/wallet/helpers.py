"""Wallet state made through the real services, for the wallet tests."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import AuditEntry
from family.models import Relation
from tests.clock import NOW
from wallet import services

ONLINE = AuditEntry.Channel.ONLINE


def open_wallet(person, *, at=None):
    return services.wallet_open(
        person=person,
        actor=person.user,
        channel=ONLINE,
        confirm_place=True,
        confirm_phone=True,
        at=at,
    )


def give(sender, recipient, amount, *, relation=Relation.PARENT, key=None, at=NOW):
    """A transfer sent and accepted at `at` (a daytime instant)."""
    transfer, _created = services.transfer_send(
        sender=sender,
        actor=sender.user,
        channel=ONLINE,
        recipient=recipient,
        relation=relation,
        amount=Decimal(amount),
        idempotency_key=key or f"give-{sender.pk}-{recipient.pk}-{amount}",
        at=at,
    )
    services.transfer_accept(transfer=transfer, actor=recipient.user, channel=ONLINE, at=at)
    return transfer
