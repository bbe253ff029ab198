"""What `family` must ask of a higher app without importing it (accounts <- family <- payments).

`payments` registers the holder-balance provider in its AppConfig.ready(); until it does (and in
a project without the payments app) the balance part of R2 cannot be checked and is skipped."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from accounts.models import InsuredPerson

BalanceProvider = Callable[[InsuredPerson], Decimal | None]
_balance_provider: BalanceProvider | None = None


def register_balance_provider(provider: BalanceProvider) -> None:
    global _balance_provider
    _balance_provider = provider


def holder_balance(person: InsuredPerson) -> Decimal | None:
    return _balance_provider(person) if _balance_provider is not None else None
