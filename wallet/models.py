"""The wallet (R23-R27): a virtual limit, not an account. The money stays in the fund of the
region it came from until it is spent (payments' ledger holds it in that region's wallet-funds
account); here are the wallet's own books: its holdings per owing region, its entries, and the
transfers that fill it.

Invariants and where they are kept:
- `Wallet.balance` is the sum of its holdings, and each holding the sum of its entries for that
  region: written together under the wallet's row lock, checked by the reconciliation;
- no balance, holding or entry's balance goes below zero: CHECK constraints;
- entries are append-only: a trigger refuses UPDATE and DELETE (migration 0003);
- one pending transfer per sender, one transfer per sender and idempotency key: unique."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import InsuredPerson, RegionPolicy
from family.models import Relation
from payments.models import (
    LedgerAccount,
    LedgerTransaction,
    PremiumPaymentLine,
    RefundLine,
    SettlementLine,
)


class Wallet(models.Model):
    """One wallet per insured person (R23); closing and reopening keep the same row."""

    class Status(models.TextChoices):
        OPEN = "open", _("已开通")
        CLOSED = "closed", _("已关闭")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    person = models.OneToOneField(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="wallet",
        verbose_name=_("参保人"),
    )
    status = models.CharField(_("钱包状态"), max_length=10, choices=Status, default=Status.OPEN)
    balance = models.DecimalField(_("钱包余额"), max_digits=14, decimal_places=2, default=0)
    opened_at = models.DateTimeField(_("开通时间"))
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("医保钱包")
        verbose_name_plural = _("医保钱包")
        constraints = [
            # R23: a wallet never holds less than nothing
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="wallet_r23_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | Q(status="closed", closed_at__isnull=False),
                name="wallet_closed_at_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person.name} · {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


# R24
TRANSFER_MAX = Decimal("2000.00")
TRANSFERS_PER_DAY = 3


class Transfer(models.Model):
    """医保钱包转账 (R24, R25): money sent from an employee's personal account to a close
    relative's open wallet. While pending it is in flight: on neither side's spendable balance
    (it sits in the sender region's in-flight account). Accepted, it joins the wallet, still
    owed by the sender's region; declined or unanswered by `answer_by`, it goes back."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待接收")
        ACCEPTED = "accepted", _("已接收")
        DECLINED = "declined", _("已拒收")
        RETURNED = "returned", _("逾期退回")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    sender = models.ForeignKey(
        InsuredPerson,
        on_delete=models.PROTECT,
        related_name="wallet_transfers_sent",
        verbose_name=_("转出人"),
    )
    sender_account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("转出账户")
    )
    # The region whose fund the money stays in until it is spent (R23, R27).
    owing_region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("资金所属统筹区")
    )
    wallet = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, related_name="transfers_in", verbose_name=_("收款钱包")
    )
    relation = models.CharField(_("与转出人关系"), max_length=24, choices=Relation)
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    status = models.CharField(
        _("状态"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    sent_at = models.DateTimeField(_("转出时间"))
    answer_by = models.DateTimeField(_("接收截止时间"))
    finished_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    idempotency_key = models.CharField(_("幂等键"), max_length=120)
    send_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="+", verbose_name=_("转出凭证")
    )
    finish_transaction = models.OneToOneField(
        LedgerTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("办结凭证"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("医保钱包转账")
        verbose_name_plural = _("医保钱包转账")
        indexes = [
            models.Index(fields=["sender", "-sent_at"]),
            models.Index(
                fields=["answer_by"], condition=Q(status="pending"), name="transfer_pending_due"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"], name="transfer_once_per_key"
            ),
            # R24: one pending transfer at a time per sender
            models.UniqueConstraint(
                fields=["sender"], condition=Q(status="pending"), name="transfer_one_pending"
            ),
            # R24: more than nothing, at most 2,000.00 each
            models.CheckConstraint(
                condition=Q(amount__gt=0, amount__lte=TRANSFER_MAX), name="transfer_amount_range"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", finished_at__isnull=True)
                | (~Q(status="pending") & Q(finished_at__isnull=False)),
                name="transfer_finished_at_iff_finished",
            ),
            models.CheckConstraint(
                condition=Q(answer_by__gt=models.F("sent_at")), name="transfer_answer_after_sent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} · {self.get_status_display()}"


class Holding(models.Model):
    """The part of a wallet owed by one region's fund (R23): a wallet that received from two
    regions has two holdings. Spending takes the oldest holding first (R26)."""

    wallet = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, related_name="holdings", verbose_name=_("钱包")
    )
    region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("资金所属统筹区")
    )
    balance = models.DecimalField(_("余额（元）"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        ordering = ["wallet", "id"]
        verbose_name = _("钱包资金")
        verbose_name_plural = _("钱包资金")
        constraints = [
            models.UniqueConstraint(fields=["wallet", "region"], name="holding_one_per_region"),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="holding_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region_id} · {self.balance}"


class Entry(models.Model):
    """One movement of a wallet, append-only: money in from an accepted transfer, out to a
    settlement or premium, back from a refund. Each names the region whose fund owes it."""

    class Kind(models.TextChoices):
        TRANSFER_IN = "transfer_in", _("转账入账")
        SPEND = "spend", _("就医购药支付")
        REFUND = "refund", _("结算退款")
        PREMIUM = "premium", _("缴纳居民医保费")

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    wallet = models.ForeignKey(
        Wallet, on_delete=models.PROTECT, related_name="entries", verbose_name=_("钱包")
    )
    kind = models.CharField(_("类别"), max_length=12, choices=Kind)
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    balance_after = models.DecimalField(_("变动后余额（元）"), max_digits=14, decimal_places=2)
    owing_region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("资金所属统筹区")
    )
    transfer = models.ForeignKey(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    settlement_line = models.ForeignKey(
        SettlementLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refund_line = models.ForeignKey(
        RefundLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    premium_line = models.ForeignKey(
        PremiumPaymentLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    description = models.CharField(_("摘要"), max_length=200)
    occurred_at = models.DateTimeField(_("发生时间"))
    created_at = models.DateTimeField(_("记账时间"), auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("钱包明细")
        verbose_name_plural = _("钱包明细")
        indexes = [models.Index(fields=["wallet", "-id"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="walletentry_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="walletentry_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind="transfer_in", amount__gt=0, transfer__isnull=False)
                | Q(kind="spend", amount__lt=0, settlement_line__isnull=False)
                | Q(kind="refund", amount__gt=0, refund_line__isnull=False)
                | Q(kind="premium", amount__lt=0, premium_line__isnull=False),
                name="walletentry_kind_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class ClearingBatch(models.Model):
    """R27: one night's net position between two regions. Its lines are the cross-region wallet
    spends and refunds not cleared before; `amount` is what `payer_region` owes `payee_region`
    once they are netted (0 when they cancel out). Both regions confirm; at the second
    confirmation the positions are settled in the ledger (status settled)."""

    class Status(models.TextChoices):
        OPEN = "open", _("待确认")
        SETTLED = "settled", _("已确认清算")

    public_id = models.UUIDField(_("批次编号"), default=uuid.uuid4, unique=True, editable=False)
    business_date = models.DateField(_("清算日期"))
    payer_region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("应付方统筹区")
    )
    payee_region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("应收方统筹区")
    )
    amount = models.DecimalField(_("轧差金额（元）"), max_digits=14, decimal_places=2)
    lines_count = models.PositiveIntegerField(_("明细笔数"))
    status = models.CharField(_("状态"), max_length=10, choices=Status, default=Status.OPEN)
    payer_confirmed_at = models.DateTimeField(_("应付方确认时间"), null=True, blank=True)
    payer_confirmed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("应付方确认人"),
    )  # fmt: skip
    payee_confirmed_at = models.DateTimeField(_("应收方确认时间"), null=True, blank=True)
    payee_confirmed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("应收方确认人"),
    )  # fmt: skip
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("清算凭证"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("生成时间"), auto_now_add=True)

    class Meta:
        ordering = ["-business_date", "-id"]
        verbose_name = _("跨统筹区清算批次")
        verbose_name_plural = _("跨统筹区清算批次")
        permissions = [("confirm_clearingbatch", _("可以确认跨统筹区清算批次"))]
        constraints = [
            models.CheckConstraint(
                condition=~Q(payer_region=models.F("payee_region")),
                name="clearingbatch_two_regions",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="clearingbatch_not_negative"),
            models.CheckConstraint(
                condition=Q(status="open")
                | Q(
                    status="settled",
                    payer_confirmed_at__isnull=False,
                    payee_confirmed_at__isnull=False,
                ),
                name="clearingbatch_settled_when_both_confirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.business_date} {self.payer_region_id}→{self.payee_region_id} {self.amount}"


class ClearingLine(models.Model):
    """One cross-region wallet movement in a batch (R27): a spend or a premium paid to another
    region's fund (positive: `owing_region` owes `owed_region` more) or a refund of a spend
    (negative). Each movement is cleared once."""

    batch = models.ForeignKey(
        ClearingBatch, on_delete=models.PROTECT, related_name="lines", verbose_name=_("批次")
    )
    owing_region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("资金所属统筹区")
    )
    owed_region = models.ForeignKey(
        RegionPolicy, on_delete=models.PROTECT, related_name="+", verbose_name=_("就医地统筹区")
    )
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    settlement_line = models.OneToOneField(
        SettlementLine, on_delete=models.PROTECT, null=True, blank=True,
        related_name="clearing_line",
    )  # fmt: skip
    refund_line = models.OneToOneField(
        RefundLine, on_delete=models.PROTECT, null=True, blank=True, related_name="clearing_line"
    )
    premium_line = models.OneToOneField(
        PremiumPaymentLine, on_delete=models.PROTECT, null=True, blank=True,
        related_name="clearing_line",
    )  # fmt: skip
    occurred_at = models.DateTimeField(_("发生时间"))

    class Meta:
        ordering = ["batch", "occurred_at", "id"]
        verbose_name = _("清算明细")
        verbose_name_plural = _("清算明细")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    amount__gt=0,
                    settlement_line__isnull=False,
                    refund_line__isnull=True,
                    premium_line__isnull=True,
                )
                | Q(
                    amount__lt=0,
                    settlement_line__isnull=True,
                    refund_line__isnull=False,
                    premium_line__isnull=True,
                )
                | Q(
                    amount__gt=0,
                    settlement_line__isnull=True,
                    refund_line__isnull=True,
                    premium_line__isnull=False,
                ),
                name="clearingline_spend_or_refund",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owing_region_id}→{self.owed_region_id} {self.amount}"
