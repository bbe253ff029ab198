"""The wallet in the admin (issue 15): read-only, each row in the regions of the staff member
(`RegionScopedAdminMixin`): a wallet by its owner's region, a transfer by either side's, a
clearing batch by either region. Changes go through the services (the citizen's pages, the
counter, the clearing page), never through the admin; identity numbers are masked."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdminMixin, RegionScopedAdminMixin

from .models import ClearingBatch, ClearingLine, Entry, Holding, Transfer, Wallet


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


class HoldingInline(ReadOnlyInline):
    model = Holding
    fields = ["region", "balance"]


class EntryInline(ReadOnlyInline):
    model = Entry
    fields = ["occurred_at", "kind", "description", "amount", "balance_after", "owing_region"]
    ordering = ["-id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owing_region")


@admin.register(Wallet)
class WalletAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = "person__region"
    list_display = ["owner", "owner_id_number", "region", "status", "balance", "opened_at"]
    list_filter = ["status", "person__region"]
    list_select_related = ["person__region"]
    search_fields = ["person__name", "=person__id_number"]
    fields = ["public_id", "owner", "owner_id_number", "status", "balance", "opened_at",
              "closed_at"]  # fmt: skip
    readonly_fields = fields
    inlines = [HoldingInline, EntryInline]

    @admin.display(description=_("参保人"), ordering="person__name")
    def owner(self, obj):
        return obj.person.name

    @admin.display(description=_("身份证号码"))
    def owner_id_number(self, obj):
        return obj.person.masked_id_number

    @admin.display(description=_("统筹区"), ordering="person__region")
    def region(self, obj):
        return obj.person.region


@admin.register(Transfer)
class TransferAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = ("sender__region", "wallet__person__region")
    list_display = ["sent_at", "sender_name", "recipient_name", "amount", "status", "answer_by"]
    list_filter = ["status", "owing_region"]
    list_select_related = ["sender", "wallet__person"]
    fields = ["public_id", "sender_name", "recipient_name", "relation", "amount", "owing_region",
              "status", "sent_at", "answer_by", "finished_at"]  # fmt: skip
    readonly_fields = fields
    date_hierarchy = "sent_at"

    @admin.display(description=_("转出人"))
    def sender_name(self, obj):
        return obj.sender.masked_name

    @admin.display(description=_("收款人"))
    def recipient_name(self, obj):
        return obj.wallet.person.masked_name


class ClearingLineInline(ReadOnlyInline):
    model = ClearingLine
    fields = ["occurred_at", "owing_region", "owed_region", "amount"]


@admin.register(ClearingBatch)
class ClearingBatchAdmin(RegionScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    region_field = ("payer_region", "payee_region")
    list_display = ["business_date", "payer_region", "payee_region", "amount", "lines_count",
                    "status"]  # fmt: skip
    list_filter = ["status", "payer_region", "payee_region"]
    list_select_related = ["payer_region", "payee_region"]
    fields = ["public_id", "business_date", "payer_region", "payee_region", "amount",
              "lines_count", "status", "payer_confirmed_at", "payee_confirmed_at"]  # fmt: skip
    readonly_fields = fields
    inlines = [ClearingLineInline]
