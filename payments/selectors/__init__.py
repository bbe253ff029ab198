"""Every read of the payments app (a package: balance, premium, statements). Import from here."""

from .balance import balance_of  # noqa: F401
