"""Money: a double-entry ledger of personal accounts (django-hordak's invariants), designated
institutions, direct settlements with their allocation lines, refunds, premiums on behalf and
out-of-region registrations.

Invariants and where they are kept:
- the legs of a ledger transaction sum to zero: a deferred constraint trigger at commit (0002);
- legs and ledger transactions are append-only: a trigger refuses UPDATE and DELETE (0002);
- a personal account is never negative: a CHECK on the cached balance;
- the cached balance equals the sum of its legs: written in the same transaction as the legs,
  under `select_for_update` (services), and checked by the reconciliation (issue 5);
- one settlement / refund / credit per idempotency key; one premium per member and year: unique;
- one monthly credit per person, month and source, whatever file it came in: unique (CreditRow).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import InsuredPerson, RegionPolicy, ResidentPremium, User
from family.models import Authorization

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class LedgerAccount(models.Model):
    """A personal account (个人账户) of an employee-scheme person, or one of the bureau's own
    accounts per region. Money is positive on a personal account; bureau accounts take the other
    side of each movement and may be negative (the employer-credit source always is)."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("职工医保个人账户")
        EMPLOYER_CREDITS = "employer_credits", _("单位缴费划入")
        RETIREE_CREDITS = "retiree_credits", _("退休人员定额划入")
        INSTITUTION_PAYABLE = "institution_payable", _("应付定点医药机构结算款")
        PREMIUM_RECEIVABLE = "premium_receivable", _("城乡居民医保保费收入")
        # R23-R27: wallet money stays in the fund of the region it came from until it is spent.
        # In flight: sent and not yet accepted (R25); funds: accepted, held for wallets; the
        # clearing pair: what this region owes other regions and is owed by them (R27).
        WALLET_IN_FLIGHT = "wallet_in_flight", _("医保钱包转账在途资金")
        WALLET_FUNDS = "wallet_funds", _("医保钱包资金")
        CLEARING_PAYABLE = "clearing_payable", _("跨统筹区清算应付")
        CLEARING_RECEIVABLE = "clearing_receivable", _("跨统筹区清算应收")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("账户类别"), max_length=24, choices=Kind)
    person = models.OneToOneField(
        InsuredPerson,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_account",
        verbose_name=_("参保人"),
    )
    region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("统筹区")
    )
    # Cached balance of a personal account, written only by payments.services.ledger under
    # select_for_update, in the same transaction as the legs that change it. Bureau accounts keep
    # none (null): every settlement touches them, and a cached row there would serialise all
    # settlements of a region; their balance is the sum of their legs.
    balance = models.DecimalField(_("余额（元）"), null=True, blank=True, **MONEY)
    created_at = models.DateTimeField(_("开户时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("账户")
        verbose_name_plural = _("账户")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="personal") | Q(balance__gte=0),
                name="ledgeraccount_personal_not_negative",
                violation_error_message=_("个人账户余额不能为负数"),
            ),
            models.CheckConstraint(
                condition=Q(kind="personal", person__isnull=False, balance__isnull=False)
                | (~Q(kind="personal") & Q(person__isnull=True, balance__isnull=True)),
                name="ledgeraccount_person_and_balance_iff_personal",
            ),
            models.UniqueConstraint(
                fields=["kind", "region"],
                condition=~Q(kind="personal"),
                name="ledgeraccount_one_bureau_account_per_kind_and_region",
            ),
        ]

    def __str__(self) -> str:
        if self.person_id:
            return f"{self.get_kind_display()} · {self.person.name}"
        return f"{self.get_kind_display()} · {self.region_id}"


class LedgerTransaction(models.Model):
    """One movement of money: legs that sum to zero. Append-only."""

    class Kind(models.TextChoices):
        CREDIT = "credit", _("个人账户划入")
        SETTLEMENT = "settlement", _("就医购药结算")
        REFUND = "refund", _("结算退款")
        PREMIUM = "premium", _("个账代缴保费")
        TRANSFER_SEND = "transfer_send", _("医保钱包转账转出")
        TRANSFER_ACCEPT = "transfer_accept", _("医保钱包转账入账")
        TRANSFER_RETURN = "transfer_return", _("医保钱包转账退回")
        CLEARING = "clearing", _("跨统筹区清算")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("类别"), max_length=20, choices=Kind)
    description = models.CharField(_("摘要"), max_length=200)
    # Business time (when the money moved) apart from the record time.
    occurred_at = models.DateTimeField(_("发生时间"))
    created_at = models.DateTimeField(_("记账时间"), auto_now_add=True, db_index=True)
    idempotency_key = models.CharField(_("幂等键"), max_length=120, unique=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("记账凭证")
        verbose_name_plural = _("记账凭证")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.description}"


class LedgerLeg(models.Model):
    """One side of a movement on one account: positive adds to the account, negative takes."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="legs", verbose_name=_("凭证")
    )
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="legs", verbose_name=_("账户")
    )
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    # The balance of a personal account right after this leg (for statements); null elsewhere.
    balance_after = models.DecimalField(_("变动后余额（元）"), null=True, blank=True, **MONEY)
    created_at = models.DateTimeField(_("记账时间"), auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("分录")
        verbose_name_plural = _("分录")
        indexes = [models.Index(fields=["account", "-id"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledgerleg_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount}"


class Institution(models.Model):
    """定点医药机构: settles directly through the API (R17)."""

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("定点医疗机构")
        PHARMACY = "pharmacy", _("定点零售药店")
        VACCINATION = "vaccination", _("预防接种门诊")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(_("机构编码"), max_length=32, unique=True)
    name = models.CharField(_("机构名称"), max_length=100)
    kind = models.CharField(_("机构类别"), max_length=12, choices=Kind)
    region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("统筹区")
    )
    designated = models.BooleanField(_("定点"), default=True)
    # The HMAC key. The server needs the secret itself to check signatures, so it is stored; it
    # is shown once, when created, and never again in any page.
    api_secret = models.CharField(_("接口密钥"), max_length=128, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("定点医药机构")
        verbose_name_plural = _("定点医药机构")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ApiRequestSeen(models.Model):
    """A signed POST of the institution API, remembered while its timestamp is valid (±300 s),
    so that the same signed request sent again is recognised as a replay (issue 13). Rows older
    than the window are deleted by the insert that remembers the next one."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(_("签名"), max_length=64)
    signed_at = models.BigIntegerField(_("签名时间戳"))

    class Meta:
        verbose_name = _("已受理的接口签名")
        verbose_name_plural = _("已受理的接口签名")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "signature"], name="apirequest_signature_once"
            )
        ]
        indexes = [models.Index(fields=["institution", "signed_at"], name="apirequest_window")]

    def __str__(self) -> str:
        return f"{self.signature[:12]}… @ {self.signed_at}"


class OutOfRegionFiling(models.Model):
    """异地就医备案 (R19): mutual aid pays for care outside the member's region only with this."""

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="out_of_region_filings",
        verbose_name=_("参保人"),
    )
    care_region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("就医地统筹区")
    )
    valid_from = models.DateField(_("备案开始日期"))
    valid_to = models.DateField(_("备案结束日期"), null=True, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("异地就医备案")
        verbose_name_plural = _("异地就医备案")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="outofregionfiling_to_after_from",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person_id} → {self.care_region_id}"


class Category(models.TextChoices):
    """R12: what a settlement may pay for. The API names are a contract; keep them."""

    OUTPATIENT = "outpatient", _("门诊")
    INPATIENT = "inpatient", _("住院")
    MATERNITY = "maternity", _("生育")
    PHARMACY_DRUG = "pharmacy_drug", _("药店购药")
    PHARMACY_DEVICE = "pharmacy_device", _("药店购买医疗器械和耗材")
    VACCINE = "vaccine", _("非免疫规划疫苗")


class Settlement(models.Model):
    class Status(models.TextChoices):
        SETTLED = "settled", _("已结算")
        PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")
        REFUNDED = "refunded", _("已全额退款")

    # Not a column: the lines the service has just written, in payment order, so that the API
    # answers a new settlement from what it wrote instead of reading it back (issue 16).
    written_lines: list[SettlementLine] | None = None

    public_id = models.UUIDField(_("结算编号"), default=uuid.uuid4, unique=True, editable=False)
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("机构")
    )
    patient = models.ForeignKey(
        InsuredPerson, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("患者")
    )
    category = models.CharField(_("类别"), max_length=20, choices=Category)
    amount = models.DecimalField(_("个人负担金额（元）"), **MONEY)
    cash_due = models.DecimalField(_("现金支付（元）"), **MONEY)
    refunded = models.DecimalField(_("已退款（元）"), default=ZERO, **MONEY)
    status = models.CharField(_("状态"), max_length=20, choices=Status, default=Status.SETTLED)
    items = models.JSONField(_("明细"), default=list, blank=True)
    occurred_at = models.DateTimeField(_("就医购药时间"))
    created_at = models.DateTimeField(_("结算时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    idempotency_key = models.CharField(_("幂等键"), max_length=120)
    request_hash = models.CharField(_("请求摘要"), max_length=64)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("结算")
        verbose_name_plural = _("结算")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "idempotency_key"], name="settlement_idempotency_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="settlement_amount_positive"),
            models.CheckConstraint(
                condition=Q(cash_due__gte=0) & Q(cash_due__lte=models.F("amount")),
                name="settlement_cash_due_in_range",
            ),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=models.F("amount")),
                name="settlement_refunded_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution.code} {self.amount}"

    @property
    def refundable(self) -> Decimal:
        return self.amount - self.refunded


class SettlementLine(models.Model):
    """Which account paid how much of a settlement, and through which authorization (R9). A
    wallet line (R26) names the wallet-funds account of the region that owes that money, one
    line per owing region; the wallet app keeps which wallet it came from."""

    class Source(models.TextChoices):
        OWN = "own", _("本人个人账户")
        WALLET = "wallet", _("医保钱包")
        MUTUAL_AID = "mutual_aid", _("家庭共济")

    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, related_name="lines", verbose_name=_("结算")
    )
    position = models.PositiveSmallIntegerField(_("支付顺序"))
    source = models.CharField(_("来源"), max_length=12, choices=Source)
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("支付账户")
    )
    payer = models.ForeignKey(
        InsuredPerson, on_delete=models.PROTECT, related_name="+", verbose_name=_("付款人")
    )
    authorization = models.ForeignKey(
        Authorization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlement_lines",
        verbose_name=_("共济授权"),
    )
    amount = models.DecimalField(_("金额（元）"), **MONEY)

    class Meta:
        ordering = ["settlement", "position"]
        verbose_name = _("结算支付明细")
        verbose_name_plural = _("结算支付明细")
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "position"], name="settlementline_unique_position"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="settlementline_positive"),
            models.CheckConstraint(
                condition=Q(source__in=["own", "wallet"], authorization__isnull=True)
                | Q(source="mutual_aid", authorization__isnull=False),
                name="settlementline_authorization_iff_mutual_aid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.amount}"


class Refund(models.Model):
    public_id = models.UUIDField(_("退款编号"), default=uuid.uuid4, unique=True, editable=False)
    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("结算")
    )
    amount = models.DecimalField(_("退款金额（元）"), **MONEY)
    # The part of the refund that is cash back to the patient (paid last, refunded first).
    cash_part = models.DecimalField(_("退现金（元）"), **MONEY)
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    idempotency_key = models.CharField(_("幂等键"), max_length=120)
    request_hash = models.CharField(_("请求摘要"), max_length=64)
    created_at = models.DateTimeField(_("退款时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("退款")
        verbose_name_plural = _("退款")
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "idempotency_key"], name="refund_idempotency_key"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.settlement_id} −{self.amount}"


class RefundLine(models.Model):
    """R11, R17: a refund goes back to an account a settlement line took it from."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="lines")
    settlement_line = models.ForeignKey(
        SettlementLine, on_delete=models.PROTECT, related_name="refund_lines"
    )
    amount = models.DecimalField(_("金额（元）"), **MONEY)

    class Meta:
        verbose_name = _("退款明细")
        verbose_name_plural = _("退款明细")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refundline_positive"),
        ]

    def __str__(self) -> str:
        return str(self.amount)


class PremiumPayment(models.Model):
    """个账代缴 (R16): a member's resident premium for one year, paid from holders' accounts; or
    (R26) the person's own premium paid from their 医保钱包 (lines on wallet-funds accounts,
    without an authorization)."""

    class PayType(models.TextChoices):
        PERSONAL = "personal", _("个人共济")
        FAMILY = "family", _("家庭共济")
        WALLET = "wallet", _("医保钱包")

    # What a holder chooses from when paying for a member (R16); WALLET is the owner's own (R26).
    HOLDER_PAY_TYPES = (PayType.PERSONAL, PayType.FAMILY)

    public_id = models.UUIDField(_("缴费编号"), default=uuid.uuid4, unique=True, editable=False)
    member = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="premiums_paid_for",
        verbose_name=_("缴费人（家庭成员）"),
    )
    premium = models.ForeignKey(
        ResidentPremium, on_delete=models.PROTECT, related_name="+", verbose_name=_("缴费标准")
    )
    year = models.PositiveSmallIntegerField(_("缴费年度"))
    pay_type = models.CharField(_("代缴方式"), max_length=10, choices=PayType)
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    late = models.BooleanField(_("集中缴费期后缴费"), default=False)
    benefit_start = models.DateField(_("待遇开始日期"))
    benefit_end = models.DateField(_("待遇结束日期"))
    paid_at = models.DateTimeField(_("缴费时间"))
    paid_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("办理人")
    )
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        ordering = ["-paid_at", "-id"]
        verbose_name = _("个账代缴")
        verbose_name_plural = _("个账代缴")
        constraints = [
            # R16: one premium per member and year, whatever the double clicks or retries.
            models.UniqueConstraint(fields=["member", "year"], name="premium_one_per_member_year"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="premium_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.amount}"


class PremiumPaymentLine(models.Model):
    payment = models.ForeignKey(PremiumPayment, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField(_("支付顺序"))
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="+")
    payer = models.ForeignKey(
        InsuredPerson, on_delete=models.PROTECT, related_name="+", verbose_name=_("付款人")
    )
    # None on a wallet line (R26): the owner pays from their own wallet
    authorization = models.ForeignKey(
        Authorization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="premium_lines",
    )
    amount = models.DecimalField(_("金额（元）"), **MONEY)

    class Meta:
        ordering = ["payment", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="premiumline_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.amount}"


class CreditSource(models.TextChoices):
    """The kind of a monthly credit (划入): at most one of each per person and month."""

    EMPLOYER = "employer", _("单位缴费划入")
    RETIREE_FIXED = "retiree_fixed", _("退休人员定额划入")


class CreditImport(models.Model):
    """One CSV file of monthly credits (划入) of one source: checked whole (one bad row and
    nothing is staged), staged with all its rows pending in one short transaction, then posted
    in short chunks in the background (`CreditRow`). Batches imported before the rows existed
    (migration 0005) have no rows and were posted at once: they are `done`."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("等待入账")
        POSTING = "posting", _("入账中")
        DONE = "done", _("已全部入账")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    file_name = models.CharField(_("文件名"), max_length=200)
    # Not unique: the same bytes may come as another source; the guarantee is CreditRow's.
    file_sha256 = models.CharField(_("文件摘要"), max_length=64, db_index=True)
    source = models.CharField(
        _("划入类别"), max_length=16, choices=CreditSource, default=CreditSource.EMPLOYER
    )
    rows = models.PositiveIntegerField(_("行数"))
    total = models.DecimalField(_("合计（元）"), **MONEY)
    status = models.CharField(_("状态"), max_length=8, choices=Status, default=Status.QUEUED)
    # Written in the same transaction as the rows it counts (payments.services.credit_import).
    rows_posted = models.PositiveIntegerField(_("已入账行数"), default=0)
    imported_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始入账时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("入账完成时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("个人账户划入批次")
        verbose_name_plural = _("个人账户划入批次")
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_posted__lte=models.F("rows")),
                name="creditimport_posted_within_rows",
            ),
            models.CheckConstraint(
                condition=(Q(status="done") & Q(rows_posted=models.F("rows")))
                | (~Q(status="done") & Q(rows_posted__lt=models.F("rows"))),
                name="creditimport_done_iff_every_row_posted",
            ),
        ]

    def __str__(self) -> str:
        return self.file_name


class CreditRow(models.Model):
    """One credit of a file: a person, a month and a source, credited once whatever file it
    comes in (the unique constraint is the guarantee; the import's check gives the message).
    Staged `pending`; `posted` with its ledger transaction, in the same transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待入账")
        POSTED = "posted", _("已入账")

    batch = models.ForeignKey(
        CreditImport,
        on_delete=models.PROTECT,
        related_name="credit_rows",
        verbose_name=_("划入批次"),
    )
    line = models.PositiveIntegerField(_("行号"))
    person = models.ForeignKey(
        InsuredPerson, on_delete=models.PROTECT, related_name="+", verbose_name=_("参保人")
    )
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("个人账户")
    )
    month = models.DateField(_("月份"))  # the first day of the month credited
    source = models.CharField(_("划入类别"), max_length=16, choices=CreditSource)
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    status = models.CharField(_("状态"), max_length=8, choices=Status, default=Status.PENDING)
    ledger_transaction = models.OneToOneField(
        LedgerTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_row",
        verbose_name=_("记账凭证"),
    )
    posted_at = models.DateTimeField(_("入账时间"), null=True, blank=True)

    class Meta:
        ordering = ["batch", "line"]
        verbose_name = _("划入明细")
        verbose_name_plural = _("划入明细")
        indexes = [
            # The posting's scan: a batch's pending rows in id order (SKIP LOCKED).
            models.Index(
                fields=["batch", "id"],
                condition=Q(status="pending"),
                name="creditrow_pending_by_batch",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "month", "source"],
                name="creditrow_one_credit_per_person_month_and_source",
                violation_error_message=_("该参保人该月份的此类划入已入账"),
            ),
            models.UniqueConstraint(fields=["batch", "line"], name="creditrow_one_per_line"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="creditrow_amount_positive"),
            models.CheckConstraint(
                condition=Q(month__day=1), name="creditrow_month_is_its_first_day"
            ),
            models.CheckConstraint(
                condition=Q(
                    status="pending", ledger_transaction__isnull=True, posted_at__isnull=True
                )
                | Q(status="posted", ledger_transaction__isnull=False, posted_at__isnull=False),
                name="creditrow_posted_iff_ledger_transaction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.line}"


class ReconciliationRun(models.Model):
    """One nightly check (issue 5 point 6, issue 15 point 6): every personal account's cached
    balance against the sum of its legs, the sum of all legs against zero, clearing receivables
    against clearing payables (R27), and whatever the checks registered through
    `payments.hooks.register_reconciliation_check` add (the wallets' books, R23). A mismatch is
    recorded and shown to staff (`ReconciliationMismatch`, the admin index); nothing here ever
    changes a balance."""

    started_at = models.DateTimeField(_("开始时间"), db_index=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    accounts_checked = models.PositiveIntegerField(_("核对账户数"), default=0)
    # What the registered checks looked at (wallets, R23); 0 without the wallet app.
    wallets_checked = models.PositiveIntegerField(_("核对钱包数"), default=0)
    mismatch_count = models.PositiveIntegerField(_("不符账户数"), default=0)
    # The sum of every leg of every account, bureau accounts included: 0 in a sound ledger.
    ledger_total = models.DecimalField(_("全部分录合计（元）"), default=ZERO, **MONEY)
    ok = models.BooleanField(_("核对相符"), default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("个人账户对账")
        verbose_name_plural = _("个人账户对账")
        constraints = [
            models.CheckConstraint(
                condition=Q(ok=False) | Q(mismatch_count=0, ledger_total=0),
                name="reconciliationrun_ok_only_without_differences",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.mismatch_count}"


class ReconciliationMismatch(models.Model):
    """Two figures that must be equal and are not, in one run: `balance` is the figure kept
    (a cached balance, or the total of the rows that say where the money is) and `ledger_sum`
    the one it must equal; `kind` says which pair. The figures are those of the run's snapshot;
    nothing is changed.

    Who it concerns: `account` (a personal account; the region's wallet-funds or in-flight
    account), `person` (the owner of a wallet: payments knows people, never the wallet app's
    rows), `region` (the account's region, the wallet owner's, or the owing region of a
    holding); none of them for the clearing total, which is national."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("个人账户余额与分录合计不符")
        # R23: a wallet's balance against its holdings, its entries and its last entry
        WALLET_HOLDINGS = "wallet_holdings", _("钱包余额与各统筹区资金合计不符")
        WALLET_ENTRIES = "wallet_entries", _("钱包余额与钱包明细合计不符")
        WALLET_LAST_ENTRY = "wallet_last_entry", _("钱包余额与最近一笔明细的变动后余额不符")
        HOLDING_ENTRIES = "holding_entries", _("钱包的一个统筹区资金与该统筹区明细合计不符")
        # R23, R25: per region, the wallets' holdings and the pending transfers in the ledger
        WALLET_FUNDS = "wallet_funds", _("统筹区钱包资金合计与钱包资金账户分录合计不符")
        WALLET_IN_FLIGHT = "wallet_in_flight", _("统筹区待接收转账合计与在途资金账户分录合计不符")
        # R27: all regions' clearing payables against all regions' receivables
        CLEARING = "clearing", _("全部清算应付与全部清算应收不符")

    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.PROTECT,
        related_name="mismatches",
        verbose_name=_("对账记录"),
    )
    kind = models.CharField(
        _("不符类别"), max_length=24, choices=Kind, default=Kind.PERSONAL, db_index=True
    )
    account = models.ForeignKey(
        LedgerAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("账户"),
    )
    person = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("参保人"),
    )
    region = models.ForeignKey(
        RegionPolicy,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("统筹区"),
    )
    balance = models.DecimalField(_("账户余额（元）"), **MONEY)
    ledger_sum = models.DecimalField(_("分录合计（元）"), **MONEY)
    difference = models.DecimalField(_("差额（余额−分录合计，元）"), **MONEY)
    # balance_after of the account's newest leg (of a wallet's newest entry, for the wallet
    # kinds): where it equals the balance, a leg is missing or wrong; where it equals the sum,
    # the cached balance was changed outside the ledger.
    last_balance_after = models.DecimalField(
        _("最近一笔分录的变动后余额（元）"), null=True, blank=True, **MONEY
    )

    class Meta:
        ordering = ["run", "kind", "account", "person", "region"]
        verbose_name = _("对账不符记录")
        verbose_name_plural = _("对账不符记录")
        constraints = [
            models.UniqueConstraint(
                fields=["run", "kind", "account", "person", "region"],
                nulls_distinct=False,
                name="reconciliationmismatch_once_per_run",
            ),
            models.CheckConstraint(
                condition=~Q(kind="personal") | Q(account__isnull=False),
                name="reconciliationmismatch_personal_names_the_account",
            ),
            models.CheckConstraint(
                condition=~Q(difference=0), name="reconciliationmismatch_difference_not_zero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id or self.person_id or ''} {self.difference}"
