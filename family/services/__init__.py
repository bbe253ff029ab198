"""Every write of the family app (R1–R10, R14, R15, R20–R22), one module per area.

Each service is one transaction, audits what it changes (R20) and raises `ValidationError` with a
message from `family.messages` and that message's own code. The database constraints in
`models.py` are the guarantee behind the friendly checks, which live in `family.selectors.checks`
(reads never import writes). Rows that two requests could race on are locked with
`select_for_update(no_key=True)` in ascending id order (persons first, then authorizations; see
`common`). NO KEY: rows that settlement and premium lines reference take only FOR KEY SHARE from
those inserts, which FOR UPDATE would block (and deadlock against); we never change a key.

- `binding`: bind members, change a window, sign the letter (R1–R8, R21)
- `consent`: the member's answer (R8, R22)
- `ending`: revoke, leave, end (R15)
- `order`: deduction order (R10) and single-payment cap (R21)
- `status`: insured status changes (R14) and guardians (R22)
- `counter`: counter binding by staff (R18); `scans`: its uploads' checks
- `lifecycle`: the scheduled passes (start, expiry, lapse, R14 reconcile, reminders)
- `signatures`: the drawn signature's checks (R7); `notify`: the notices' texts

Callers import every write from here."""

from ..selectors.checks import MemberRequest, Signature
from .binding import authorization_window_change, relationship_bind
from .consent import authorization_answer
from .counter import (
    CLOSED,
    DOCS_HOLDER_CARD_MISSING,
    DOCS_INVALID,
    DOCS_MEMBER_CARD_MISSING,
    DOCS_PROOF_MISSING,
    DOCS_PROOF_NOT_ACCEPTED,
    LETTER_CHANGED_SINCE_PRINT,
    LETTER_NOT_PRINTED,
    MEMBER_NOT_IN_BINDING,
    MEMBER_PROBLEM,
    NOT_EDITABLE,
    NOT_PENDING_REVIEW,
    NOT_PRINTED,
    NOT_STAFF,
    OUT_OF_REGION,
    REJECT_REASON_REQUIRED,
    REVIEW_GRANDPARENT,
    REVIEW_MEMBERS_OVER,
    REVIEW_NO_PERMISSION,
    REVIEW_OWN,
    SCAN_MISSING,
    STATE_CODES,
    Documents,
    counter_binding_approve,
    counter_binding_cancel,
    counter_binding_documents_set,
    counter_binding_letter_print,
    counter_binding_member_add,
    counter_binding_member_remove,
    counter_binding_reject,
    counter_binding_scan_attach,
    counter_binding_start,
    counter_binding_submit,
    documents_problems,
    review_reasons_for,
)
from .ending import authorization_leave, authorization_revoke, relationship_end
from .lifecycle import (
    authorizations_activate,
    authorizations_expire,
    consents_lapse,
    expiry_reminders_send,
    lifecycle_run,
    relationships_orphaned_end,
    statuses_reconcile,
)
from .order import authorization_cap_set, deduction_order_move, deduction_order_set
from .scans import (
    MAX_PDF_PAGES,
    MAX_PIXELS,
    SCAN_BROKEN,
    SCAN_EMPTY,
    SCAN_ENCRYPTED,
    SCAN_EXECUTABLE,
    SCAN_TOO_LARGE,
    SCAN_TOO_MANY_PAGES,
    SCAN_TOO_MANY_PIXELS,
    SCAN_TYPE_REFUSED,
    Scan,
    scan_check,
    scan_limit_bytes,
    scan_limit_mb,
    scan_read,
)
from .signatures import (
    MAX_SIGNATURE_BYTES,
    MAX_SIGNATURE_HEIGHT,
    MAX_SIGNATURE_WIDTH,
    SIGNATURE_IMAGE_INVALID,
    SIGNATURE_IMAGE_TOO_LARGE,
    signature_image_clean,
    signature_image_shown,
)
from .status import (
    ENDING_STATUSES,
    guardianship_register,
    person_relationships_terminate,
    person_status_change,
)

__all__ = [
    "STATE_CODES",
    "authorization_answer",
    "authorization_cap_set",
    "authorization_leave",
    "authorization_revoke",
    "authorization_window_change",
    "authorizations_activate",
    "authorizations_expire",
    "consents_lapse",
    "counter_binding_approve",
    "counter_binding_cancel",
    "counter_binding_documents_set",
    "counter_binding_letter_print",
    "counter_binding_member_add",
    "counter_binding_member_remove",
    "counter_binding_reject",
    "counter_binding_scan_attach",
    "counter_binding_start",
    "counter_binding_submit",
    "deduction_order_move",
    "deduction_order_set",
    "documents_problems",
    "expiry_reminders_send",
    "guardianship_register",
    "lifecycle_run",
    "person_relationships_terminate",
    "person_status_change",
    "relationship_bind",
    "relationship_end",
    "relationships_orphaned_end",
    "review_reasons_for",
    "scan_check",
    "scan_limit_bytes",
    "scan_limit_mb",
    "scan_read",
    "signature_image_clean",
    "signature_image_shown",
    "statuses_reconcile",
    "CLOSED",
    "DOCS_HOLDER_CARD_MISSING",
    "DOCS_INVALID",
    "DOCS_MEMBER_CARD_MISSING",
    "DOCS_PROOF_MISSING",
    "DOCS_PROOF_NOT_ACCEPTED",
    "Documents",
    "ENDING_STATUSES",
    "LETTER_CHANGED_SINCE_PRINT",
    "LETTER_NOT_PRINTED",
    "MAX_PDF_PAGES",
    "MAX_PIXELS",
    "MAX_SIGNATURE_BYTES",
    "MAX_SIGNATURE_HEIGHT",
    "MAX_SIGNATURE_WIDTH",
    "MEMBER_NOT_IN_BINDING",
    "MEMBER_PROBLEM",
    "MemberRequest",
    "NOT_EDITABLE",
    "NOT_PENDING_REVIEW",
    "NOT_PRINTED",
    "NOT_STAFF",
    "OUT_OF_REGION",
    "REJECT_REASON_REQUIRED",
    "REVIEW_GRANDPARENT",
    "REVIEW_MEMBERS_OVER",
    "REVIEW_NO_PERMISSION",
    "REVIEW_OWN",
    "SCAN_BROKEN",
    "SCAN_EMPTY",
    "SCAN_ENCRYPTED",
    "SCAN_EXECUTABLE",
    "SCAN_MISSING",
    "SCAN_TOO_LARGE",
    "SCAN_TOO_MANY_PAGES",
    "SCAN_TOO_MANY_PIXELS",
    "SCAN_TYPE_REFUSED",
    "SIGNATURE_IMAGE_INVALID",
    "SIGNATURE_IMAGE_TOO_LARGE",
    "Scan",
    "Signature",
]
