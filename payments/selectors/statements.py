"""Statements (issue 4 point 6): a holder's personal account with its entries, and what others'
accounts paid for a member. Every read is scoped to one person the caller has already resolved
(the logged-in citizen, a ward the citizen acts for, or a person staff opened in the admin).

Query budget: the entries of one page are one query (legs with their transaction); whom each
settlement, refund or premium was for is then one query per kind for the whole page, never one
per row (`entries_with_counterparts`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from django.db.models import (
    CharField,
    DecimalField,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _g

from accounts.models import InsuredPerson, User
from accounts.selectors import person_for_user
from family import selectors as family_selectors

from ..models import (
    MONEY,
    ZERO,
    Category,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
    PremiumPayment,
    PremiumPaymentLine,
    Refund,
    RefundLine,
    Settlement,
    SettlementLine,
)

Kind = LedgerTransaction.Kind


def statement_account_for(*, person: InsuredPerson) -> LedgerAccount | None:
    """The person's personal account; None for a resident-scheme person (who has none) and for
    an employee whose account has never been opened (nothing credited yet)."""
    if person.scheme != InsuredPerson.Scheme.EMPLOYEE:
        return None
    return LedgerAccount.objects.filter(person=person, kind=LedgerAccount.Kind.PERSONAL).first()


def statement_legs(
    *,
    account: LedgerAccount,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    kind: str | None = None,
) -> QuerySet[LedgerLeg]:
    """The legs of one personal account, newest first (posting order, which is the order of
    `balance_after`). Dates are the local (Asia/Shanghai) dates of when the money moved."""
    qs = LedgerLeg.objects.filter(account=account).select_related("transaction")
    if date_from:
        qs = qs.filter(transaction__occurred_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(transaction__occurred_at__date__lte=date_to)
    if kind:
        qs = qs.filter(transaction__kind=kind)
    return qs.order_by("-id")


@dataclass
class StatementEntry:
    """One line of a statement: a leg of the account and, for a settlement, a refund or a
    premium, whom the money was for."""

    leg: LedgerLeg
    for_person: InsuredPerson | None = None
    #: True when the money was for the account's own holder (a settlement of their own care).
    for_self: bool = False
    institution_name: str = ""

    @property
    def occurred_at(self) -> dt.datetime:
        return self.leg.transaction.occurred_at

    @property
    def kind_label(self) -> str:
        return self.leg.transaction.get_kind_display()

    @property
    def description(self) -> str:
        return self.leg.transaction.description

    @property
    def amount(self) -> Decimal:
        return self.leg.amount

    @property
    def balance_after(self) -> Decimal | None:
        return self.leg.balance_after

    @property
    def for_label(self) -> str:
        """ "本人", or the name with the masked identity number; empty for a credit."""
        if self.for_self:
            return _g("本人")
        if self.for_person is None:
            return ""
        return f"{self.for_person.name}（{self.for_person.masked_id_number}）"


def entries_with_counterparts(
    *, legs: Sequence[LedgerLeg], account: LedgerAccount
) -> list[StatementEntry]:
    """Wrap legs (already fetched) as entries with whom each movement was for: one query for the
    settlements, one for the refunds and one for the premiums of these legs, whatever their
    number (and none at all for a kind absent from them)."""
    by_kind: dict[str, list[int]] = {}
    for leg in legs:
        by_kind.setdefault(leg.transaction.kind, []).append(leg.transaction_id)
    found: dict[int | None, tuple[InsuredPerson, str]] = {}
    if ids := by_kind.get(Kind.SETTLEMENT):
        for s in Settlement.objects.filter(ledger_transaction_id__in=ids).select_related(
            "patient", "institution"
        ):
            found[s.ledger_transaction_id] = (s.patient, s.institution.name)
    if ids := by_kind.get(Kind.REFUND):
        for r in Refund.objects.filter(ledger_transaction_id__in=ids).select_related(
            "settlement__patient", "settlement__institution"
        ):
            found[r.ledger_transaction_id] = (r.settlement.patient, r.settlement.institution.name)
    if ids := by_kind.get(Kind.PREMIUM):
        for p in PremiumPayment.objects.filter(ledger_transaction_id__in=ids).select_related(
            "member"
        ):
            found[p.ledger_transaction_id] = (p.member, "")
    entries = []
    for leg in legs:
        person, place = found.get(leg.transaction_id, (None, ""))
        entries.append(
            StatementEntry(
                leg=leg,
                for_person=person,
                for_self=person is not None and person.pk == account.person_id,
                institution_name=place,
            )
        )
    return entries


def statement_entries_all(
    *, legs: QuerySet[LedgerLeg], account: LedgerAccount, chunk: int = 1000
) -> Iterable[StatementEntry]:
    """Every entry of a filtered statement (the CSV export), read in chunks so that the lookups
    of whom each movement was for stay a few queries per thousand rows."""
    last_id = None
    while True:
        page = legs if last_id is None else legs.filter(id__lt=last_id)
        rows = list(page[:chunk])
        if not rows:
            return
        yield from entries_with_counterparts(legs=rows, account=account)
        if len(rows) < chunk:
            return
        last_id = rows[-1].id


# ---------------------------------------------------------------------------------------------
# 为我支付的记录: what other people's accounts paid for a member


@dataclass
class PaidForRow:
    kind: str  # "settlement" or "premium"
    at: dt.datetime
    payer_name: str
    amount: Decimal
    where: str
    what: str
    refunded: Decimal = field(default=ZERO)

    @property
    def kind_label(self) -> str:
        return _g("就医购药结算") if self.kind == "settlement" else _g("个账代缴保费")

    @property
    def what_label(self) -> str:
        if self.kind == "settlement":
            try:
                return str(Category(self.what).label)
            except ValueError:
                return self.what
        return _g("%(year)s年度城乡居民医保保费") % {"year": self.what}


def paid_for_member(*, member: InsuredPerson) -> QuerySet:
    """Settlement lines paid through family mutual aid for the member, and premium lines paid on
    their behalf (R11, R16), newest first, as one UNION query of plain values (so that a page of
    it is one query whatever its mix). `refunded` is what has since gone back to the payer."""
    money: DecimalField = DecimalField(**MONEY)
    refunded = (
        RefundLine.objects.filter(settlement_line=OuterRef("pk"))
        .order_by()
        .values("settlement_line")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    columns = ("kind", "at", "payer_name", "amount", "where", "what", "refunded", "row_id")
    settlements = (
        SettlementLine.objects.filter(
            source=SettlementLine.Source.MUTUAL_AID, settlement__patient=member
        )
        .order_by()
        .annotate(
            kind=Value("settlement", output_field=CharField()),
            at=F("settlement__occurred_at"),
            payer_name=F("payer__name"),
            where=F("settlement__institution__name"),
            what=F("settlement__category"),
            refunded=Coalesce(
                Subquery(refunded, output_field=money), Value(ZERO), output_field=money
            ),
            row_id=F("pk"),
        )
        .values_list(*columns)
    )
    premiums = (
        PremiumPaymentLine.objects.filter(payment__member=member)
        .order_by()
        .annotate(
            kind=Value("premium", output_field=CharField()),
            at=F("payment__paid_at"),
            payer_name=F("payer__name"),
            where=F("payment__premium__region__name"),
            what=Cast(F("payment__year"), output_field=CharField()),
            refunded=Value(ZERO, output_field=money),
            row_id=F("pk"),
        )
        .values_list(*columns)
    )
    return settlements.union(premiums, all=True).order_by("-at", "kind", "-row_id")


def paid_for_rows(rows: Iterable[tuple]) -> list[PaidForRow]:
    return [
        PaidForRow(kind=k, at=at, payer_name=payer, amount=amount, where=where or "", what=what,
                   refunded=refunded)
        for k, at, payer, amount, where, what, refunded, _row_id in rows
    ]  # fmt: skip


def ward_get_for_user(*, user: User, public_id: UUID, at: dt.datetime | None = None):
    """A person the logged-in citizen acts for (R22: a registered ward, or a minor they bind as
    holder, as `family.selectors.wards_for` says); anyone else is a 404."""
    person = person_for_user(user=user)
    if person is None:
        raise Http404
    for ward in family_selectors.wards_for(person=person, at=at or timezone.now()):
        if ward.public_id == public_id:
            return ward
    raise Http404
