"""个账代缴 reads (R16): whom a holder may pay for and for which years, the 代缴信息校验 (every
check with its result, and the plan of which accounts would pay), and the payments a citizen may
see (the holder who paid, a holder whose account paid, the member, the member's guardian).

`premium_check` is the one place the rules of a premium payment are written down: the check page
shows its results, and `services.premium_pay` runs it again under the account locks before any
money moves. It reads, never writes (accounts that were never opened count as 0.00)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from accounts.models import InsuredPerson, ResidentPremium, User
from accounts.selectors import uuid_or_404
from family import selectors as family_selectors
from family.models import Authorization, Guardianship, Relationship

from ..models import ZERO, LedgerAccount, PremiumPayment, PremiumPaymentLine

PayType = PremiumPayment.PayType

# What each check looks at (the left column of the 代缴信息校验 page).
CHECK_BINDING = _("共济绑定关系")
CHECK_ENROLMENT = _("被代缴人参保状态")
CHECK_BALANCE = _("个人账户余额")
CHECK_NOT_PAID = _("本年度缴费记录")
CHECK_TIMING = _("缴费时间")

# Results. Each failure is a module constant so that tests assert the exact text.
NO_PREMIUM = _("%(region)s没有%(year)s年度城乡居民医保缴费标准")
BINDING_OK = _("%(holder)s对%(member)s的共济授权有效（%(window)s），双方均为正常参保")
BINDING_FAMILY_OK = _("可按扣款顺序代缴的主账户：%(holders)s")
NOT_BOUND = _("您没有为%(member)s设立有效的家庭共济授权，请先在“我的家庭共济”中绑定")
RELATIONSHIP_ENDED = _("家庭共济关系已终止")
BINDING_NOT_USABLE = _("您对%(member)s的共济授权当前不可用：%(state)s")
MEMBER_NOT_RESIDENT = _("%(member)s不是城乡居民医保参保人，不能代缴城乡居民医保保费")
MEMBER_NOT_NORMAL = _("%(member)s的参保状态为“%(status)s”，不能代缴")
ENROLMENT_OK = _("%(member)s在%(region)s参加城乡居民医保，参保状态正常")
BALANCE_OK = _("可用余额%(available)s元，足以缴纳%(amount)s元")
BALANCE_SHORT = _("可用余额%(available)s元，不足以缴纳%(amount)s元")
# 家庭共济 names no other holder's balance: the holder who asks sees only their own figure.
BALANCE_FAMILY_OK = _("按扣款顺序从%(count)s个主账户扣款，可共济使用的余额足以缴纳%(amount)s元")
BALANCE_FAMILY_SHORT = _("按扣款顺序，各主账户可共济使用的余额合计不足%(amount)s元")
FLOOR_NOTE = _("（本统筹区个人账户须保留%(floor)s元，超出部分才可共济使用）")
ONE_HOLDER_NOTE = _("（本统筹区一次缴费只能由一个主账户支付）")
NOT_PAID_OK = _("%(member)s的%(year)s年度保费尚未缴纳")
ALREADY_PAID = _("%(member)s的%(year)s年度保费已于%(date)s缴纳，同一年度只能缴纳一次")
NOT_OPEN_YET = _("%(year)s年度集中缴费期为%(start)s至%(end)s，尚未开始，暂不能缴费")
ON_TIME = _(
    "在集中缴费期（%(start)s至%(end)s）内缴费，待遇享受期为%(benefit_start)s至%(benefit_end)s"
)
LATE = _(
    "已过集中缴费期（%(start)s至%(end)s），属逾期缴费：待遇等待期%(months)s个月，"
    "自%(benefit_start)s起享受待遇，至%(benefit_end)s止"
)
LATE_TOO_LATE = _(
    "已过集中缴费期（%(start)s至%(end)s）。逾期缴费有%(months)s个月待遇等待期，"
    "待遇开始日期%(benefit_start)s已晚于待遇享受期结束日期%(benefit_end)s，不能再缴纳该年度保费"
)
BENEFIT_OVER = _("%(year)s年度待遇享受期已于%(benefit_end)s结束，不能再缴纳该年度保费")


def _day(value: dt.date) -> str:
    return date_format(value, "Y-m-d")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar arithmetic: the same day `months` later, or that month's last day when it is
    shorter (2025-11-30 + 3 months = 2026-02-28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


# ---------------------------------------------------------------------------------------------
# the choose page


def premium_members_for(*, holder: InsuredPerson) -> list[Authorization]:
    """The people the holder authorizes through a live authorization (pending or active), with
    their regions, in binding order (one query). Whether one is usable now is the check's."""
    return list(
        Authorization.objects.live()
        .filter(holder=holder)
        .select_related("member__region")
        .order_by("created_at", "pk")
    )


def premium_years_for(*, region_ids: set[int]) -> list[ResidentPremium]:
    """The yearly premiums of these regions, newest year first (one query)."""
    return list(
        ResidentPremium.objects.filter(region_id__in=region_ids)
        .select_related("region")
        .order_by("-year", "region__code")
    )


def premium_for(*, member: InsuredPerson, year: int) -> ResidentPremium | None:
    return (
        ResidentPremium.objects.select_related("region")
        .filter(region_id=member.region_id, year=year)
        .first()
    )


def premium_member_for_holder(*, holder: InsuredPerson, public_id) -> InsuredPerson:
    """A member the holder authorizes through a live authorization; anyone else is a 404."""
    member = (
        InsuredPerson.objects.select_related("region")
        .filter(
            public_id=uuid_or_404(public_id),
            authorizations_received__holder=holder,
            authorizations_received__status__in=Authorization.LIVE_STATUSES,
        )
        .first()
    )
    if member is None:
        raise Http404
    return member


# ---------------------------------------------------------------------------------------------
# 代缴信息校验


@dataclass
class Check:
    code: str
    label: str
    passed: bool
    message: str
    #: A passed check that asks for attention (a late payment and its waiting period).
    warning: bool = False


@dataclass
class PlanLine:
    """One account that would pay, through which authorization, and how much."""

    position: int
    authorization: Authorization
    holder: InsuredPerson
    available: Decimal
    amount: Decimal
    account: LedgerAccount | None = None


@dataclass
class PremiumCheck:
    holder: InsuredPerson
    member: InsuredPerson
    year: int
    pay_type: str
    at: dt.datetime
    premium: ResidentPremium | None
    checks: list[Check] = field(default_factory=list)
    lines: list[PlanLine] = field(default_factory=list)
    #: Usable authorizations whose accounts would be asked, in deduction order.
    payers: list[Authorization] = field(default_factory=list)
    late: bool = False
    benefit_start: dt.date | None = None
    benefit_end: dt.date | None = None
    existing: PremiumPayment | None = None

    @property
    def amount(self) -> Decimal:
        return self.premium.amount if self.premium is not None else ZERO

    @property
    def passed(self) -> bool:
        return self.premium is not None and all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def pay_type_label(self) -> str:
        return str(PayType(self.pay_type).label)


def _window_text(authorization: Authorization) -> str:
    start = _day(timezone.localdate(authorization.window_start))
    if authorization.window_end is None:
        return str(_("%(start)s起长期有效") % {"start": start})
    end = _day(timezone.localdate(authorization.window_end))
    return str(_("%(start)s至%(end)s") % {"start": start, "end": end})


def premium_payers(
    *, holder: InsuredPerson, member: InsuredPerson, pay_type: str, usable: list[Authorization]
) -> list[Authorization]:
    """Whose accounts a payment would ask, in order: 个人共济 only the holder's own; 家庭共济
    the holders in the member's deduction order (R10), only the first where the region lets one
    payment draw on one holder only (R21)."""
    if pay_type == PayType.PERSONAL:
        return [a for a in usable if a.holder_id == holder.pk]
    if not member.region.several_holders_per_settlement:
        return usable[:1]
    return list(usable)


def premium_check(
    *,
    holder: InsuredPerson,
    member: InsuredPerson,
    year: int,
    pay_type: str,
    at: dt.datetime,
    accounts: dict[int | None, LedgerAccount] | None = None,
) -> PremiumCheck:
    """Every check of a premium payment at instant `at`, each with its result (R14, R16, R21).

    `accounts` (person id -> account) are the locked accounts of the payers when the service
    calls this under its locks; otherwise the balances are read as they are now."""
    premium = premium_for(member=member, year=year)
    result = PremiumCheck(
        holder=holder, member=member, year=year, pay_type=pay_type, at=at, premium=premium
    )
    if premium is None:
        result.checks.append(
            Check("premium", str(CHECK_TIMING), False,
                  str(NO_PREMIUM % {"region": member.region.name, "year": year}))
        )  # fmt: skip
        return result
    usable = family_selectors.authorizations_usable_for(member=member, at=at)
    result.payers = premium_payers(holder=holder, member=member, pay_type=pay_type, usable=usable)
    result.checks = [
        _check_binding(result, usable),
        _check_enrolment(result, premium),
        _check_balance(result, accounts),
        _check_not_paid(result),
        _check_timing(result, premium),
    ]
    return result


def premium_own_check(*, member: InsuredPerson, year: int, at: dt.datetime) -> PremiumCheck:
    """The checks of a person paying their own premium of `year` from their wallet (R26):
    enrolment, not paid yet, timing. Whether the wallet holds enough is the wallet app's check."""
    premium = premium_for(member=member, year=year)
    result = PremiumCheck(
        holder=member, member=member, year=year, pay_type=PayType.WALLET, at=at, premium=premium
    )
    if premium is None:
        result.checks.append(
            Check("premium", str(CHECK_TIMING), False,
                  str(NO_PREMIUM % {"region": member.region.name, "year": year}))
        )  # fmt: skip
        return result
    result.checks = [
        _check_enrolment(result, premium),
        _check_not_paid(result),
        _check_timing(result, premium),
    ]
    return result


def _check_binding(result: PremiumCheck, usable: list[Authorization]) -> Check:
    """R14: my own authorization for the member is usable now (window, relationship, both
    people normal); for 家庭共济 the holders who would pay are listed in order."""
    label = str(CHECK_BINDING)
    member_name = result.member.name
    mine = next((a for a in usable if a.holder_id == result.holder.pk), None)
    if mine is None:
        live = (
            Authorization.objects.live()
            .select_related("holder__region", "member__region", "relationship")
            .filter(holder=result.holder, member=result.member)
            .first()
        )
        if live is None:
            return Check("binding", label, False, str(NOT_BOUND % {"member": member_name}))
        state = family_selectors.state_label(live, result.at)
        if live.status in Authorization.GRANTED_STATUSES and state == str(
            Authorization.Status.ACTIVE.label
        ):
            # Active and inside its window, yet not usable: its relationship or a person.
            if live.relationship.status != Relationship.Status.ACTIVE:
                state = str(RELATIONSHIP_ENDED)
            else:
                state = str(family_selectors.SUSPENDED)
        return Check(
            "binding", label, False,
            str(BINDING_NOT_USABLE % {"member": member_name, "state": state}),
        )  # fmt: skip
    message = str(
        BINDING_OK
        % {"holder": result.holder.name, "member": member_name, "window": _window_text(mine)}
    )
    if result.pay_type == PayType.FAMILY:
        names = "、".join(a.holder.name for a in result.payers)
        message += "；" + str(BINDING_FAMILY_OK % {"holders": names})
    return Check("binding", label, True, message)


def _check_enrolment(result: PremiumCheck, premium: ResidentPremium) -> Check:
    """R16: the member is in the resident scheme of the premium's region, in normal status."""
    label = str(CHECK_ENROLMENT)
    member = result.member
    if member.scheme != InsuredPerson.Scheme.RESIDENT:
        return Check("enrolment", label, False, str(MEMBER_NOT_RESIDENT % {"member": member.name}))
    if member.status != InsuredPerson.Status.NORMAL:
        return Check(
            "enrolment", label, False,
            str(MEMBER_NOT_NORMAL % {"member": member.name, "status": member.get_status_display()}),
        )  # fmt: skip
    return Check(
        "enrolment", label, True,
        str(ENROLMENT_OK % {"member": member.name, "region": premium.region.name}),
    )  # fmt: skip


def _balances(result: PremiumCheck, accounts: dict[int | None, LedgerAccount] | None) -> dict:
    """person id -> account (or None when never opened), for the payers and, for 个人共济, the
    holder even when their authorization is not usable (so the page still shows a figure)."""
    ids = {a.holder_id for a in result.payers}
    if result.pay_type == PayType.PERSONAL:
        ids.add(result.holder.pk)
    if accounts is not None:
        return {pid: accounts.get(pid) for pid in ids}
    rows = LedgerAccount.objects.filter(person_id__in=ids, kind=LedgerAccount.Kind.PERSONAL)
    found = {row.person_id: row for row in rows}
    return {pid: found.get(pid) for pid in ids}


def _available(
    account: LedgerAccount | None, authorization: Authorization | None, floor
) -> Decimal:
    """R21: only the part above the holder region's retained floor, within the holder's cap."""
    balance = account.balance if account is not None else ZERO
    # a personal account has a balance (ledgeraccount_person_and_balance_iff_personal)
    assert balance is not None
    available = max(balance - (floor or ZERO), ZERO)
    if authorization is not None and authorization.payment_cap is not None:
        available = min(available, authorization.payment_cap)
    return available


def _check_balance(result: PremiumCheck, accounts: dict[int | None, LedgerAccount] | None) -> Check:
    """个人共济: my own account must hold the whole premium (the seed: 余额不低于缴费金额);
    家庭共济: the holders in deduction order together, each from the first on. Only what lies
    above each holder region's retained floor and within each holder's cap counts (R21)."""
    label = str(CHECK_BALANCE)
    amount = result.amount
    found = _balances(result, accounts)
    notes: list[str] = []

    def floor_of(holder: InsuredPerson) -> Decimal:
        floor = holder.region.retained_floor or ZERO
        note = str(FLOOR_NOTE % {"floor": _money(floor)})
        if floor and note not in notes:
            notes.append(note)
        return floor

    if result.pay_type == PayType.PERSONAL:
        # Whether my binding is usable is the binding check's: the balance is judged anyway.
        mine = result.payers[0] if result.payers else None
        account = found.get(result.holder.pk)
        available = _available(account, mine, floor_of(result.holder))
        passed = available >= amount
        if passed and mine is not None:
            result.lines = [
                PlanLine(position=1, authorization=mine, holder=result.holder,
                         available=available, amount=amount, account=account)
            ]  # fmt: skip
        figures: dict[str, object] = {"available": _money(available), "amount": _money(amount)}
        message = (BALANCE_OK if passed else BALANCE_SHORT) % figures
        return Check("balance", label, passed, str(message) + "".join(notes))

    rest = amount
    lines: list[PlanLine] = []
    for authorization in result.payers:
        account = found.get(authorization.holder_id)
        available = _available(account, authorization, floor_of(authorization.holder))
        take = min(rest, available)
        if take > 0:
            lines.append(
                PlanLine(position=len(lines) + 1, authorization=authorization,
                         holder=authorization.holder, available=available, amount=take,
                         account=account)
            )  # fmt: skip
            rest -= take
    if not result.member.region.several_holders_per_settlement:
        notes.append(str(ONE_HOLDER_NOTE))
    passed = rest == ZERO
    if passed:
        result.lines = lines
    figures = {"amount": _money(amount), "count": len(lines)}
    message = (BALANCE_FAMILY_OK if passed else BALANCE_FAMILY_SHORT) % figures
    return Check("balance", label, passed, str(message) + "".join(notes))


def _check_not_paid(result: PremiumCheck) -> Check:
    """R16: one premium per member and year (the database's unique constraint is the guarantee)."""
    label = str(CHECK_NOT_PAID)
    existing = PremiumPayment.objects.filter(member=result.member, year=result.year).first()
    result.existing = existing
    names = {"member": result.member.name, "year": result.year}
    if existing is not None:
        date = _day(timezone.localdate(existing.paid_at))
        return Check("not_paid", label, False, str(ALREADY_PAID % {**names, "date": date}))
    return Check("not_paid", label, True, str(NOT_PAID_OK % names))


def _check_timing(result: PremiumCheck, premium: ResidentPremium) -> Check:
    """R16: before the collection period: not open; inside: on time, the whole benefit period;
    after it and before the benefit period ends: late, benefits from the payment date plus the
    waiting period (calendar months), refused if that falls after the benefit period; after the
    benefit period: refused."""
    label = str(CHECK_TIMING)
    today = timezone.localdate(result.at)
    dates = {
        "year": premium.year,
        "start": _day(premium.collection_start),
        "end": _day(premium.collection_end),
        "benefit_end": _day(premium.benefit_end),
        "months": premium.waiting_months,
    }
    if today < premium.collection_start:
        return Check("timing", label, False, str(NOT_OPEN_YET % dates))
    if today <= premium.collection_end:
        result.benefit_start, result.benefit_end = premium.benefit_start, premium.benefit_end
        return Check(
            "timing", label, True,
            str(ON_TIME % {**dates, "benefit_start": _day(premium.benefit_start)}),
        )  # fmt: skip
    if today > premium.benefit_end:
        return Check("timing", label, False, str(BENEFIT_OVER % dates))
    start = max(premium.benefit_start, add_months(today, premium.waiting_months))
    dates["benefit_start"] = _day(start)
    if start > premium.benefit_end:
        return Check("timing", label, False, str(LATE_TOO_LATE % dates))
    result.late = True
    result.benefit_start, result.benefit_end = start, premium.benefit_end
    return Check("timing", label, True, str(LATE % dates), warning=True)


# ---------------------------------------------------------------------------------------------
# receipts: who may see a payment


def _visible_to(*, user: User, at: dt.datetime) -> Q:
    """The holder who paid (their login made it), a holder whose account paid a line, the member,
    and the member's registered guardian (R22). Nobody else, not even another holder of the
    member."""
    day = timezone.localdate(at)
    ward_ids = (
        Guardianship.objects.valid_on(day).filter(guardian__user_id=user.pk).values("ward_id")
    )
    paid_a_line = PremiumPaymentLine.objects.filter(payment=OuterRef("pk"), payer__user_id=user.pk)
    return (
        Q(paid_by_id=user.pk)
        | Q(member__user_id=user.pk)
        | Q(member_id__in=ward_ids)
        | Q(Exists(paid_a_line))
    )


def premium_get_for_user(*, user: User, public_id, at: dt.datetime | None = None) -> PremiumPayment:
    """A payment the user may see, with its member, region and lines; anyone else gets 404."""
    payment = (
        PremiumPayment.objects.select_related("member__region", "premium__region", "paid_by")
        .prefetch_related(
            Prefetch("lines", queryset=PremiumPaymentLine.objects.select_related("payer"))
        )
        .filter(_visible_to(user=user, at=at or timezone.now()), public_id=uuid_or_404(public_id))
        .first()
    )
    if payment is None:
        raise Http404
    return payment


def premiums_for_user(*, user: User, at: dt.datetime | None = None) -> QuerySet[PremiumPayment]:
    """我的代缴记录: payments the user made or paid a line of, for them, or for their ward."""
    return (
        PremiumPayment.objects.select_related("member", "premium__region")
        .filter(_visible_to(user=user, at=at or timezone.now()))
        .order_by("-paid_at", "-pk")
    )


def premium_payment_of(*, member: InsuredPerson, year: int) -> PremiumPayment | None:
    """The member's payment of that year, if any (R16: there is at most one)."""
    return PremiumPayment.objects.filter(member=member, year=year).only("public_id").first()


def premium_by_key_for_user(*, user: User, idempotency_key: str) -> PremiumPayment | None:
    """The payment a confirm with this key already made (a double click, a retry), if the user
    may see it."""
    return (
        PremiumPayment.objects.filter(
            ledger_transaction__idempotency_key=premium_ledger_key(idempotency_key),
            paid_by_id=user.pk,
        )
        .only("public_id")
        .first()
    )


def premium_ledger_key(idempotency_key: str) -> str:
    return f"premium:{idempotency_key}"
