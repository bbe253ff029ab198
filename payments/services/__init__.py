"""Every write of the payments app (a package: ledger, settlement, premium, credits,
institutions, reconciliation, credit import). Import from here."""

from .credit_import import (  # noqa: F401
    credit_batch_post,
    credit_batches_resume,
    credits_import_csv,
)
from .credits import (  # noqa: F401
    CreditImportRefused,
    account_credit,
    credits_csv_check,
    parse_amount,
)
from .filings import out_of_region_filing_create, out_of_region_filing_end  # noqa: F401
from .institutions import (  # noqa: F401
    api_request_remember,
    api_request_seen,
    institution_create,
    institution_designation_set,
    institution_secret_rotate,
)
from .ledger import personal_account_for  # noqa: F401
from .premium import premium_commitment_text, premium_pay  # noqa: F401
from .reconcile import ledger_reconcile  # noqa: F401
from .settlement import settlement_create, settlement_refund  # noqa: F401
