"""The ledger's only writer: post a movement as legs that sum to zero, updating the cached balances
of personal accounts in the same transaction, under row locks taken in ascending id order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from accounts.models import InsuredPerson, RegionPolicy

from ..models import ZERO, LedgerAccount, LedgerLeg, LedgerTransaction

Kind = LedgerAccount.Kind

NO_PERSONAL_ACCOUNT = _("只有职工医保参保人有个人账户")
LEGS_UNBALANCED = _("记账分录借贷不平衡")
INSUFFICIENT_BALANCE = _("个人账户余额不足")


def personal_account_for(person: InsuredPerson) -> LedgerAccount:
    """The personal account of an employee-scheme person, opened on first use."""
    if person.scheme != InsuredPerson.Scheme.EMPLOYEE:
        raise ValidationError(NO_PERSONAL_ACCOUNT, code="no_personal_account")
    account, _created = LedgerAccount.objects.get_or_create(
        person=person,
        defaults={"kind": Kind.PERSONAL, "region_id": person.region_id, "balance": ZERO},
    )
    return account


def personal_account_ids_for(persons: Sequence[InsuredPerson]) -> dict[int, int]:
    """person id -> personal account id for several employees in one query (accounts never
    opened are opened here)."""
    ids = dict(
        LedgerAccount.objects.filter(person__in=persons, kind=Kind.PERSONAL).values_list(
            "person_id", "pk"
        )
    )
    for person in persons:
        if person.pk not in ids:
            ids[person.pk] = personal_account_for(person).pk
    return ids


def bureau_account(kind: str, region: RegionPolicy | int) -> LedgerAccount:
    region_id = region.pk if isinstance(region, RegionPolicy) else region
    account, _created = LedgerAccount.objects.get_or_create(kind=kind, region_id=region_id)
    return account


def accounts_lock(ids: Iterable[int]) -> dict[int, LedgerAccount]:
    """Lock personal accounts for a read-then-write, always in ascending id order so that two
    movements over the same accounts can never deadlock. Call inside a transaction."""
    rows = (
        LedgerAccount.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=sorted(set(ids)))
        .select_related("person")
        .order_by("pk")
    )
    return {row.pk: row for row in rows}


def person_accounts_lock(persons: Sequence[InsuredPerson]) -> dict[int, LedgerAccount]:
    """person id -> personal account, locked as `accounts_lock` locks (ascending account id), in
    one statement when every account is open already (the settlement's hot path, issue 16).
    An employee whose account was never opened gets it opened, and all are locked again."""
    ids = sorted({person.pk for person in persons})
    if not ids:
        return {}

    def lock() -> dict[int, LedgerAccount]:
        rows = (
            LedgerAccount.objects.select_for_update(no_key=True, of=("self",))
            .filter(person_id__in=ids, kind=Kind.PERSONAL)
            .select_related("person")
            .order_by("pk")
        )
        # personal accounts have a person (ledgeraccount_person_and_balance_iff_personal)
        return {row.person_id: row for row in rows if row.person_id is not None}

    locked = lock()
    if len(locked) < len(ids):
        for person in persons:
            if person.pk not in locked:
                personal_account_for(person)
        locked = lock()
    return locked


def legs_apply(legs: Sequence[tuple[LedgerAccount, Decimal]]) -> list[LedgerLeg]:
    """Check one movement's legs (some, summing to zero, no personal balance below zero) and
    move the `balance` of the personal accounts in them, which the caller has locked; returns
    the legs to write, each personal one with the balance after it. Writes nothing: the caller
    writes the legs and the same balance changes in its transaction (`transaction_post`, or
    one statement of hand-written SQL on the settlement's hot path)."""
    if sum((amount for _a, amount in legs), ZERO) != ZERO or not legs:
        raise ValidationError(LEGS_UNBALANCED, code="unbalanced")
    rows = []
    for account, amount in legs:
        balance_after = None
        if account.kind == Kind.PERSONAL:
            # a personal account has a balance (ledgeraccount_person_and_balance_iff_personal)
            assert account.balance is not None
            if account.balance + amount < 0:
                raise ValidationError(INSUFFICIENT_BALANCE, code="insufficient_balance")
            account.balance += amount
            balance_after = account.balance
        rows.append(LedgerLeg(account=account, amount=amount, balance_after=balance_after))
    return rows


def transaction_post(
    *,
    kind: str,
    description: str,
    occurred_at: dt.datetime,
    idempotency_key: str,
    legs: Sequence[tuple[LedgerAccount, Decimal]],
) -> LedgerTransaction:
    """Write one movement. Personal accounts in `legs` must have been locked by the caller with
    `accounts_lock` (their `balance` attribute is then current); the database refuses a negative
    balance and, at commit, legs that do not sum to zero."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transaction_post must run inside the caller's transaction")
    rows = legs_apply(legs)
    entry = LedgerTransaction.objects.create(
        kind=kind,
        description=description[:200],
        occurred_at=occurred_at,
        idempotency_key=idempotency_key,
    )
    for row in rows:
        row.transaction = entry
        if row.balance_after is not None:
            LedgerAccount.objects.filter(pk=row.account_id).update(
                balance=F("balance") + row.amount
            )
    LedgerLeg.objects.bulk_create(rows)
    return entry


@dataclass(frozen=True)
class Movement:
    """One movement for `transactions_post_many`: as the arguments of `transaction_post`."""

    kind: str
    description: str
    occurred_at: dt.datetime
    idempotency_key: str
    legs: Sequence[tuple[LedgerAccount, Decimal]]


def transactions_post_many(movements: Sequence[Movement]) -> list[LedgerTransaction]:
    """Write many movements in a constant number of statements (a scheduled pass's batch): the
    transactions in one INSERT, the legs in one, the personal balances in one UPDATE. The same
    rules as `transaction_post`: personal accounts locked by the caller (`accounts_lock`, the
    same objects passed for one account), each movement's legs sum to zero, no balance below
    zero (the database refuses it too)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transactions_post_many must run inside the caller's transaction")
    if not movements:
        return []
    # the legs checked and the balances moved, movement by movement (a later movement over
    # the same account sees the balance an earlier one left), before anything is written
    checked = [legs_apply(movement.legs) for movement in movements]
    entries = LedgerTransaction.objects.bulk_create(
        [
            LedgerTransaction(
                kind=m.kind,
                description=m.description[:200],
                occurred_at=m.occurred_at,
                idempotency_key=m.idempotency_key,
            )
            for m in movements
        ]
    )
    rows, changed = [], {}
    for entry, legs, movement in zip(entries, checked, movements, strict=True):
        for leg, (account, _amount) in zip(legs, movement.legs, strict=True):
            leg.transaction = entry
            if leg.balance_after is not None:
                changed[account.pk] = account
            rows.append(leg)
    LedgerLeg.objects.bulk_create(rows)
    if changed:
        LedgerAccount.objects.bulk_update(list(changed.values()), ["balance"])
    return entries
