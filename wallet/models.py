"""The wallet (R23): a virtual limit, not an account. The money stays in the fund of the region
it came from until it is spent; the wallet entries that will remember which region owes each
amount come with transfers. `balance` is the sum of those entries, kept here so that closing
("only when empty") is checked against a real column that can never go below zero."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import InsuredPerson


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
