"""Every write of the payments app (a package: ledger, settlement, premium, credits,
institutions). Import from here."""

from .credits import (  # noqa: F401
    CreditImportRefused,
    account_credit,
    credits_import_csv,
    parse_amount,
)
from .institutions import institution_create, institution_secret_rotate  # noqa: F401
from .ledger import bureau_account, personal_account_for, transaction_post  # noqa: F401
from .settlement import settlement_create, settlement_refund  # noqa: F401
