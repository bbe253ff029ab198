"""Every read of the payments app (a package: balance, premium, statements, reconciliation).
Import from here."""

from .balance import balance_of  # noqa: F401
from .premium import (  # noqa: F401
    premium_by_key_for_user,
    premium_check,
    premium_for,
    premium_get_for_user,
    premium_member_for_holder,
    premium_members_for,
    premium_payment_of,
    premium_years_for,
    premiums_for_user,
)
from .reconcile import reconciliation_is_stale, reconciliation_latest  # noqa: F401
from .settlements import (  # noqa: F401
    patient_by_id_number,
    refund_key_used,
    settlement_get_for_institution,
    settlement_key_used,
)
from .statements import (  # noqa: F401
    entries_with_counterparts,
    paid_for_member,
    paid_for_rows,
    statement_account_for,
    statement_entries_all,
    statement_legs,
    ward_get_for_user,
)
