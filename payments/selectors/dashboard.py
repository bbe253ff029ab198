"""The staff dashboard's figures (issue 6 point 4), in the regions the staff user serves.

Every figure is counted in the holder's region: relationships and authorizations where the
holder is insured (the relationship is filed there), mutual-aid spending and premiums on behalf
by the region of the account that paid. Each figure is one aggregate query (GROUP BY in SQL;
days and months cut in Asia/Shanghai), so the page runs the same number of queries whatever the
data (six here; the page adds the list of the user's regions).

Mutual-aid spending is the money a holder's account paid for someone else: settlement lines of
source `mutual_aid` (R9, R11), by the month the care or purchase happened (`occurred_at`), less
what refunds have since given back to those accounts (R17)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from accounts.models import RegionPolicy
from accounts.selectors import in_staff_scope
from family.models import Authorization, Relationship

from ..models import ZERO, Category, PremiumPaymentLine, RefundLine, SettlementLine

BINDING_DAYS = 30
SPENDING_MONTHS = 12
LIVE_SHOWN = (
    Authorization.Status.ACTIVE,
    Authorization.Status.SCHEDULED,
    Authorization.Status.PENDING_CONSENT,
)


def dashboard_regions_for_staff(*, user) -> list[RegionPolicy]:
    """The regions a staff user may filter by (all of them for a superuser): one query."""
    return list(
        in_staff_scope(RegionPolicy.objects.all(), user=user, region_field="pk").order_by("code")
    )


@dataclass(frozen=True)
class Money:
    """Paid, given back by refunds, and what remains spent."""

    paid: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.paid - self.refunded


@dataclass(frozen=True)
class PremiumYear:
    year: int
    payments: int
    amount: Decimal


@dataclass(frozen=True)
class Dashboard:
    today: dt.date
    active_relationships: int
    authorizations: list[tuple[str, str, int]]  # (status, label, count) for LIVE_SHOWN
    bindings_per_day: list[tuple[dt.date, int]]  # the last BINDING_DAYS days, oldest first
    spending_per_month: list[tuple[dt.date, Money]]  # first day of each of SPENDING_MONTHS
    spending_per_category: list[tuple[str, str, Money]]  # (category, label, money), all kinds
    premiums_per_year: list[PremiumYear]

    @property
    def consents_pending(self) -> int:
        return next(n for status, _label, n in self.authorizations if status == "pending_consent")

    @property
    def live_authorizations(self) -> int:
        return sum(n for _s, _l, n in self.authorizations)

    @property
    def bindings_total(self) -> int:
        return sum(n for _d, n in self.bindings_per_day)

    @property
    def spending_total(self) -> Money:
        return _money_sum(m for _m, m in self.spending_per_month)

    @property
    def premiums_total(self) -> Decimal:
        return sum((p.amount for p in self.premiums_per_year), ZERO)


def _money_sum(items) -> Money:
    paid = refunded = ZERO
    for money in items:
        paid += money.paid
        refunded += money.refunded
    return Money(paid=paid, refunded=refunded)


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    months = day.year * 12 + day.month - 1 - back
    return dt.date(months // 12, months % 12 + 1, 1)


def _scoped(queryset: QuerySet, *, user, region_field: str, region: RegionPolicy | None):
    queryset = in_staff_scope(queryset, user=user, region_field=region_field)
    if region is not None:
        queryset = queryset.filter(**{region_field: region})
    return queryset.order_by()  # no model ordering in the GROUP BY


def dashboard_for_staff(
    *, user, region: RegionPolicy | None = None, today: dt.date | None = None
) -> Dashboard:
    """The dashboard of `user`'s regions, or of one of them (`region`, already checked to be
    in scope by the caller's form). `today` is a local date (Asia/Shanghai)."""
    tz = timezone.get_default_timezone()
    today = today or timezone.localdate()

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz)

    def scoped(queryset, field):
        return _scoped(queryset, user=user, region_field=field, region=region)

    # 1. Active relationships.
    active_relationships = scoped(
        Relationship.objects.filter(status=Relationship.Status.ACTIVE), "holder__region"
    ).count()

    # 2. Live authorizations by status (pending consent among them).
    counts = dict(
        scoped(Authorization.objects.filter(status__in=LIVE_SHOWN), "holder__region")
        .values_list("status")
        .annotate(n=Count("id"))
    )
    authorizations = [(s.value, str(s.label), counts.get(s.value, 0)) for s in LIVE_SHOWN]

    # 3. Bindings (authorizations created) per local day, whatever became of them since.
    first_day = today - dt.timedelta(days=BINDING_DAYS - 1)
    per_day = dict(
        scoped(
            Authorization.objects.filter(
                created_at__gte=midnight(first_day),
                created_at__lt=midnight(today + dt.timedelta(days=1)),
            ),
            "holder__region",
        )
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values_list("day")
        .annotate(n=Count("id"))
    )
    bindings = [
        (day, per_day.get(day, 0))
        for day in (first_day + dt.timedelta(days=i) for i in range(BINDING_DAYS))
    ]

    # 4. Mutual-aid spending by month and category (one query paid, one refunded).
    months = [_month_start(today, back) for back in range(SPENDING_MONTHS - 1, -1, -1)]
    since, until = midnight(months[0]), midnight(_month_start(today, -1))

    def spending(model, via: str) -> QuerySet:
        """Totals per month and category of `model`'s mutual-aid rows; `via` is the path from
        its rows to their SettlementLine ("" for the lines themselves)."""
        return (
            scoped(
                model.objects.filter(
                    **{
                        f"{via}source": SettlementLine.Source.MUTUAL_AID,
                        f"{via}settlement__occurred_at__gte": since,
                        f"{via}settlement__occurred_at__lt": until,
                    }
                ),
                f"{via}payer__region",
            )
            .annotate(
                month=TruncMonth(f"{via}settlement__occurred_at", tzinfo=tz),
                category=F(f"{via}settlement__category"),
            )
            .values_list("month", "category")
            .annotate(total=Sum("amount"))
        )

    paid = spending(SettlementLine, "")
    refunded = spending(RefundLine, "settlement_line__")

    cells: dict[tuple[dt.date, str], dict[str, Decimal]] = defaultdict(
        lambda: {"paid": ZERO, "refunded": ZERO}
    )
    for kind, rows in (("paid", paid), ("refunded", refunded)):
        for month, category, total in rows:
            cells[(month.astimezone(tz).date(), category)][kind] += total
    spending_per_month = [
        (
            month,
            _money_sum(Money(**v) for (m, _c), v in cells.items() if m == month),
        )
        for month in months
    ]
    spending_per_category = [
        (
            c.value,
            str(c.label),
            _money_sum(Money(**v) for (_m, cat), v in cells.items() if cat == c.value),
        )
        for c in Category
    ]

    # 5. Premiums on behalf per year: the holders' accounts' part, and how many payments.
    premiums = [
        PremiumYear(year=year, payments=n, amount=amount)
        for year, n, amount in scoped(PremiumPaymentLine.objects.all(), "payer__region")
        .values_list("payment__year")
        .annotate(n=Count("payment", distinct=True), amount=Sum("amount"))
        .order_by("payment__year")
    ]

    return Dashboard(
        today=today,
        active_relationships=active_relationships,
        authorizations=authorizations,
        bindings_per_day=bindings,
        spending_per_month=spending_per_month,
        spending_per_category=spending_per_category,
        premiums_per_year=premiums,
    )
