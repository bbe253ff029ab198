"""Every URL of the portal, with who visits it and which object it names: the property tests
attack each one with the forms its page shows and the query parameters its views read.
`test_catalogue.py` fails when a URL is added without an entry here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    name: str  # the URL's name, namespaced
    actor: str | None  # a key of world.users; None: anonymous
    obj: str | None = None  # a key of world.objects: the URL's public id (or code)
    query: str = ""  # reaches a step of a page ("?step=review"); {key}: a world.objects value
    examples: int = 12  # hypothesis examples per form (fewer where each one renders a PDF)
    prepare: str = ""  # a key of test_pages.PREPARE: state made before each example
    get_writes: tuple[str, ...] = ()  # tables a GET rightly writes (read marks, audited exports)
    sweep: bool = True  # every listed nasty value in every field (else generated values only)
    query_names: tuple[str, ...] = ()  # more query parameters the page reads (admin filters)

    @property
    def id(self) -> str:
        return f"{self.name}{self.query}@{self.actor or 'anonymous'}"


HOLDER, WIFE, PARENT, XJ_HOLDER = "王建国", "李秀英", "王德胜", "马志强"
MOTHER = "王秀兰"
CLERK, SUPERVISOR = "js_clerk", "js_super"

PAGES = [
    Page("home", HOLDER),
    Page("home", CLERK),
    Page("verify", None, "verification"),
    Page("set_language", None),
    # accounts
    Page("accounts:activate", None),
    Page("accounts:activate-code", None, prepare="activation"),
    Page("accounts:activate-resend", None, prepare="activation"),
    Page("accounts:login", None),
    Page("accounts:logout", HOLDER),
    Page("accounts:password-change", HOLDER),
    Page("accounts:inbox", HOLDER),
    Page("accounts:inbox-read-all", HOLDER),
    Page("accounts:inbox-detail", HOLDER, "notification", get_writes=("accounts_notification",)),
    # family
    Page("family:overview", HOLDER),
    Page("family:bind", HOLDER),
    Page("family:bind", HOLDER, query="?step=review", prepare="bind_draft"),
    Page("family:bind", HOLDER, query="?step=sign", prepare="bind_draft"),
    Page("family:letter-detail", HOLDER, "letter"),
    Page("family:letter-print", HOLDER, "letter"),
    Page("family:letter-pdf", HOLDER, "letter", examples=2),
    Page("family:authorization-detail", HOLDER, "authorization"),
    Page("family:window-change", HOLDER, "authorization"),
    Page("family:cap-set", HOLDER, "authorization"),
    Page("family:revoke", HOLDER, "authorization"),
    Page("family:leave", PARENT, "parent_authorization"),
    Page("family:consents", WIFE),
    Page("family:consent-answer", WIFE, "consent"),
    Page("family:order", PARENT),
    Page("family:order-member", XJ_HOLDER, "ward"),
    Page("family:records", HOLDER),
    # payments
    Page("payments:premium-list", HOLDER),
    Page("payments:premium-new", HOLDER),
    Page("payments:premium-letter", HOLDER),
    Page(
        "payments:premium-letter",
        HOLDER,
        query="?member={member}&year={next_year}&pay_type=family",
    ),
    Page("payments:premium-check", HOLDER),
    Page("payments:premium-detail", HOLDER, "premium"),
    Page("payments:premium-proof", HOLDER, "premium", examples=2),
    Page("payments:statement", HOLDER),
    Page("payments:statement-csv", HOLDER),
    Page("payments:paid-for-me", PARENT),
    Page("payments:paid-for-ward", XJ_HOLDER, "ward"),
    # wallet (R23): 王建国 in 南京, whose policy offers it; the close page with his wallet open
    Page("wallet:overview", HOLDER),
    Page("wallet:open", HOLDER),
    Page("wallet:close", HOLDER, prepare="wallet_open"),
    # transfers (R24, R25): 王建国 sends; 王秀兰 answers the one 赵敏 sent her, reads her history
    Page("wallet:transfer-send", HOLDER),
    Page("wallet:transfers", MOTHER),
    Page("wallet:transfer", MOTHER, "transfer"),
    Page("wallet:history", MOTHER),
    Page("wallet:history-csv", MOTHER),
    # the wallet pays 王德胜's own resident premium (R26); his wallet holds nothing after a spend
    Page("wallet:premium", PARENT),
    # the staff console
    Page("staff:home", CLERK),
    Page("staff:person-search", CLERK),
    Page("staff:person", CLERK, "person"),
    Page("staff:premium-counter", CLERK, "parent"),
    Page("staff:audit", SUPERVISOR),
    Page("staff:audit-export", SUPERVISOR, get_writes=("accounts_auditentry",)),
    Page("staff:dashboard", SUPERVISOR),
    Page("staff:binding-start", CLERK, "person"),
    Page("staff:binding", CLERK, "binding"),
    Page("staff:binding-upload", CLERK, "binding"),
    Page("staff:binding-letter", CLERK, "binding"),
    Page("staff:binding-scan", CLERK, "review"),
    Page("staff:review-list", SUPERVISOR),
    Page("staff:binding-review", SUPERVISOR, "review"),
    Page("staff:letter-print", CLERK, "letter"),
    Page("staff:letter-pdf", CLERK, "letter", examples=2),
    Page("staff:authorization-revoke", CLERK, "authorization"),
    Page("staff:relationship-end", CLERK, "relationship"),
    Page("staff:member-order", CLERK, "member"),
    Page("staff:person-status", CLERK, "person"),
    # the wallet at the counter (R23); the close page with 王建国's wallet opened by the clerk
    Page("staff:wallet-transfers", CLERK, "person"),
    Page("staff:wallet-open", CLERK, "person"),
    Page("staff:wallet-close", CLERK, "person", prepare="counter_wallet_open"),
    # clearing between regions (R27): the batch of 王德胜's spend in 杭州, 南京 owing
    Page("staff:clearing", SUPERVISOR),
    Page("staff:clearing-batch", SUPERVISOR, "batch"),
    Page("staff:clearing-confirm", SUPERVISOR, "batch"),
    Page("staff:clearing-csv", SUPERVISOR, "batch"),
]

# Query parameters some view reads directly (besides its forms): each page gets them too.
QUERY_NAMES = ["page", "step", "s", "next", "region", "year", "month", "format"]
# Posted names some view reads directly (buttons, wizard steps, moves).
POST_NAMES = ["step", "add", "remove", "member", "confirm", "next"]

# Covered elsewhere: the institution API (test_api.py, signed requests), the admin
# (test_admin.py, every model's pages), static and media files.
ELSEWHERE_PREFIXES = ("api/", "admin/")
